"""The demo: invented reference data, synthetic people and their logins, the
seed that loads them, and the demo's people in the fake registers. Not part
of the domain; for ``tanntid seed --demo``, ``tanntid serve --fakes``, tests
and benchmarks. Never for production data."""
