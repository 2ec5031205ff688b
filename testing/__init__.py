"""Stand-ins for tests and benchmarks (a loopback Graph API, servers on free ports). Production never imports
this package (tests/test_layering.py checks it), and it is not installed with Wepos."""
