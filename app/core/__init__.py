"""What every domain shares, in one place: settings, connections, the error catalog, the
request guards, query-parameter types, CSV cells, the embedded database. A domain folder
(app/<domain>/) imports from here; nothing here imports a domain (enforced by the import
contract in pyproject.toml)."""
