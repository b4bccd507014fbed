//! picket-store: see the architecture notes; filled in by its issue.
