"""Execution oracle (issue 13): random small programs in the audit's domain are
run before and after `connfix apply` under stand-ins for the driver, the
tracker and SQLAlchemy, and must behave the same while the tracker tells the
truth.  Entry point: `python3 -m tests.oracle` (see scripts/oracle.sh)."""
