"""`touchpoint chaos`: the dev stack under the simulator while faults are injected, then a
reconciliation of everything the platform acknowledged against what it folded."""
