//! picket-firewall: policy to nftables, pure compilation plus the thin layer that applies it.
