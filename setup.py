"""
pip install of the ROS-free core (metadata in setup.cfg).

On a ROS 2 machine the package is built with colcon (ament_cmake, see CMakeLists.txt); this file
serves training and evaluation machines without ROS: `pip install .`.
"""

from setuptools import setup

setup()
