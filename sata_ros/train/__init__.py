"""Training: SATA's task and decoupling losses (no ROS); trainer and checkpoints to follow."""
