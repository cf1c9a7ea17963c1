"""Privacy audits: memorisation (exact copies, distance to closest record, per-record
exposure) and anonymeter's singling-out, linkability and inference risks."""
