"""msgen: one YAML service spec in, a microservice repository and its CloudFormation out."""

__version__ = "0.1.0"
