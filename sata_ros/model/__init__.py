"""SATA model: DeMoE encoder on SAM 2.1 and the TaMOT heads (pure torch, no ROS)."""
