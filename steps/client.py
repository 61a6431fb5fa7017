"""Deprecated import path: the consumer client is `dreg_client` (its own distribution, `dreg-client`).

`from steps.client import load` keeps working inside the full package for one release; new code imports
`from dreg_client import load`.
"""

from dreg_client import *
from dreg_client import __all__  # noqa: F401
