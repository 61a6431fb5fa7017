"""What the tests share, as plain modules: scratch registries, local servers, sample sources, builders and fakes.

The conftest.py files only declare fixtures built from these; tests import helpers from here, never from a conftest."""
