"""ROS 2 I/O: the only layer of sata_ros that imports rclpy and ROS message packages."""
