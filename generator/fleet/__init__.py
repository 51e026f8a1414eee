"""The fleet: several services described by one fleet.yaml (issue 13).

- :mod:`generator.fleet.model`: the fleet file's pydantic model (and its JSON Schema, fleet.schema.json).
- :mod:`generator.fleet.loader`: read, locate and validate a fleet file and every service spec it lists, and the
  references between them (calls, events); every problem as ``FILE:LINE:COL: path: message``, all in one run.
- :mod:`generator.fleet.graph`: the call and event graph, the deploy order, and its Mermaid rendering.
- :mod:`generator.fleet.commands`: what ``msgen fleet synth|lint|deploy|new`` do (the CLI only parses options).
- :mod:`generator.fleet.stack` and :mod:`generator.fleet.catalog`: the fleet stack's template and the Backstage catalogue.
"""
