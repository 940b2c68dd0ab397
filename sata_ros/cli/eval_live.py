"""
`sata eval --mode live`: start (or find) the tracker node, play the bag into it, score it.

Without `--node`, the node is started through launch/tracker.launch.py (sata_ros/ros/
remote_node.py: `ros2 launch` where the launch package exists, else the launch file's own
command line) in a private namespace, /sata_eval_<pid>, so the replayed topics reach no other
node; with use_sim_time, autostart off and the variant in a small parameter file; its output
goes to <out>/node.log, and it is stopped (SIGINT) at the end.
"""

import argparse
import os
import pathlib
import time
from typing import Any, Callable

from sata_ros.model.default_checkpoint import resolve_checkpoint


def _params_file(out: pathlib.Path, variant: str) -> pathlib.Path:
    path = out / 'live_params.yaml'
    path.write_text(f'/**:\n  ros__parameters:\n    variant: "{variant}"\n')
    return path


def evaluate_live(args: argparse.Namespace, tasks: tuple[str, ...],
                  say: Callable[[str], None]) -> dict[str, Any]:
    """
    Run the live evaluation of `args.bag` and return its result (eval/replay.py keys + live).

    Raises:
        RuntimeError: the node did not start, or refused a call (the message says which and
            where its log is).
        DataError, ValueError, CheckpointError: as the offline mode.

    """
    # rclpy is imported here, not at module level: the CLI's other commands run without ROS.
    from sata_ros.ros.live_replay import LiveReplay, LiveSettings
    from sata_ros.ros.remote_node import RemoteError, start_tracker_process, stop_process
    path = resolve_checkpoint(args.checkpoint, args.variant)  # fails early on a bad path
    label = 'none' if path is None else str(path)
    args.out.mkdir(parents=True, exist_ok=True)
    proc, log = None, args.out / 'node.log'
    node = args.node
    if not node:
        namespace = f'sata_eval_{os.getpid()}'
        values = {'namespace': namespace, 'use_sim_time': 'true', 'device': args.device,
                  'checkpoint': args.checkpoint, 'autostart': 'false',
                  'params_file': str(_params_file(args.out, args.variant))}
        say(f'starting the tracker node /{namespace}/sata_tracker (log: {log})')
        proc = start_tracker_process(values, log)
        node = f'/{namespace}/sata_tracker'
    settings = LiveSettings(node=node, rate=args.rate, frame_timeout_s=args.frame_timeout,
                            startup_timeout_s=args.startup_timeout)
    try:
        with LiveReplay(settings, say) as live:
            if proc is not None:
                deadline = time.monotonic() + settings.startup_timeout_s
                while True:
                    if proc.poll() is not None:
                        raise RemoteError(f'the tracker node exited with code {proc.returncode} '
                                          'before it came up')
                    try:
                        live.remote.wait_until_up(1.0)
                        break
                    except RemoteError:
                        if time.monotonic() > deadline:
                            raise
            return live.evaluate(args.bag, tasks, args.protocol, args.prompts, label,
                                 animation=args.animation)
    except RemoteError as exc:
        where = f' (node log: {log})' if proc is not None else ''
        raise RuntimeError(f'live evaluation: {exc}{where}') from None
    finally:
        if proc is not None:
            code = stop_process(proc)
            if code not in (0, None):
                say(f'the tracker node exited with code {code} (log: {log})')
