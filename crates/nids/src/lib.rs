//! picket-nids: see the architecture notes; filled in by its issue.
