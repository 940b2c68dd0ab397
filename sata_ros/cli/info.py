"""
`sata info`: what this installation of sata_ros can use, as JSON.

Answers the first questions of every install report: which Python and torch, whether CUDA is
usable, whether SAM 2 is importable, whether ROS 2 and the generated interfaces are there, and
which optional distro pieces (message_filters, cv_bridge, ...) this machine has.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import sys
from typing import Any, Optional

from sata_ros import __version__
from sata_ros.ros.optional import availability, is_available


def register(subparsers: Any) -> None:
    """Add the `info` subcommand to `subparsers`."""
    parser = subparsers.add_parser(
        'info', help='print what this installation can use (JSON)',
        description=__doc__.splitlines()[0])
    parser.add_argument('--no-torch', action='store_true',
                        help='skip importing torch (faster; torch fields are null)')
    parser.set_defaults(func=run)


def _dist_version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _torch_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {'version': None, 'cuda_available': False, 'cuda_version': None, 'devices': []}
    cuda = torch.cuda.is_available()
    devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {'version': torch.__version__, 'cuda_available': cuda,
            'cuda_version': torch.version.cuda, 'devices': devices}


def collect(with_torch: bool = True) -> dict[str, Any]:
    """Return the installation report as a JSON-serialisable dict."""
    return {
        'sata_ros': __version__,
        'python': platform.python_version(),
        'executable': sys.executable,
        'torch': _torch_info() if with_torch else None,
        'sam2': _dist_version('sam2') if is_available('sam2') else None,
        'ros': {
            'distro': os.environ.get('ROS_DISTRO'),
            'rclpy': is_available('rclpy'),
            'interfaces': {
                'sata_ros.msg': is_available('sata_ros.msg'),
                'sata_ros.srv': is_available('sata_ros.srv'),
                'vision_msgs.msg': is_available('vision_msgs.msg'),
            },
            'optional': availability(),
        },
    }


def run(args: argparse.Namespace) -> int:
    """Print the report; exit code 0."""
    print(json.dumps(collect(with_torch=not args.no_torch), indent=2))
    return 0
