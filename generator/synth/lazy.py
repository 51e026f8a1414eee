"""troposphere's modules for what only some specs have, imported when first used.

A spec without a VPC, containers, a database, search or e-mail never touches ``troposphere.ec2``, ``ecs``,
``elasticloadbalancingv2``, ``applicationautoscaling``, ``rds``, ``opensearchserverless`` or ``ses``; importing them
anyway cost about 6% of a cold ``msgen synth`` of the default blueprint (issue 12 §2). A layer names such a module with
``ec2 = troposphere_module("ec2")`` and uses it as usual (``ec2.VPC(...)``): the module runs on its first attribute access.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def troposphere_module(name: str) -> ModuleType:
    """``troposphere.<name>``: the module itself when it is already imported, else one that imports on first use."""
    full = f"troposphere.{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.find_spec(full)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {full!r}", name=full)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    spec.loader.exec_module(module)
    return module
