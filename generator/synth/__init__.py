"""Turn a ServiceSpec into a CloudFormation template (see pipeline.synthesize)."""
