"""`touchpoint simulate`: a seeded, realistic touchpoint workload sent through the public
APIs, with a ledger of every event the platform acknowledged."""
