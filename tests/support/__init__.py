"""What the tests share that is not a fixture: the helpers, factories and clusters the three
kinds (tests/unit, tests/api, tests/ops) and the benches import. Fixtures are in tests/conftest.py."""
