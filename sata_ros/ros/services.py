"""
The node's target services: ~/add_target, ~/remove_target, ~/list_targets and ~/reset.

A service callback runs on the executor, but the tracker's stream belongs to the worker
thread: each call is handed to the worker (`Worker.submit`) and answered when the worker has
run it between two frames, or with `success: false` after `service_timeout` seconds. A bad
request (unknown prompt type, zero-area box, point outside the image, unknown id, node not
active) gets `success: false` and a message naming the problem; nothing else changes.
"""

from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Optional

import numpy as np
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from sata_ros.ros.conversions import ConversionError, header_stamp_ns, image_to_array
from sata_ros.ros.pipeline import TrackingPipeline
from sata_ros.ros.worker import Worker
from sata_ros.srv import AddTarget, ListTargets, RemoveTarget
from sata_ros.tracking.prompts import Prompt
from std_srvs.srv import Trigger

PROMPT_MODALITIES = ('rgb', 'depth', 'thermal', 'events')


class Unavailable(RuntimeError):
    """The tracker cannot take the call now (node not active, or it timed out)."""


def prompt_from_request(req: AddTarget.Request) -> Prompt:
    """
    Build the tracker Prompt of an AddTarget request (coordinates as given).

    Raises:
        ValueError: unknown prompt type, a rotated box, points without one label each, or a
            mask that is not a mono8 / 8UC1 image.

    """
    if req.prompt_type == AddTarget.Request.PROMPT_BOX:
        box = req.box
        if box.center.theta != 0.0:
            raise ValueError(f'box theta is {box.center.theta}; only axis-aligned boxes '
                             '(theta = 0) are supported')
        cx, cy = box.center.position.x, box.center.position.y
        return Prompt.from_box((cx - box.size_x / 2.0, cy - box.size_y / 2.0,
                                cx + box.size_x / 2.0, cy + box.size_y / 2.0))
    if req.prompt_type == AddTarget.Request.PROMPT_POINTS:
        if not req.points:
            raise ValueError('prompt_type is PROMPT_POINTS but no points were given')
        labels = list(req.point_labels)
        if len(labels) != len(req.points):
            raise ValueError(f'{len(req.points)} points need {len(req.points)} point_labels '
                             f'(1 = foreground, 0 = background), got {len(labels)}')
        return Prompt(points=np.array([[p.x, p.y] for p in req.points], np.float64),
                      point_labels=np.array(labels, np.int64))
    if req.prompt_type == AddTarget.Request.PROMPT_MASK:
        if req.mask.encoding not in ('mono8', '8UC1'):
            raise ValueError(f'mask image encoding is {req.mask.encoding!r}; expected mono8 or '
                             '8UC1 (nonzero = target)')
        try:
            mask = image_to_array(req.mask)
        except ConversionError as exc:
            raise ValueError(f'mask image: {exc}') from None
        return Prompt(mask=mask != 0)
    raise ValueError(f'unknown prompt_type {req.prompt_type}; expected PROMPT_BOX (0), '
                     'PROMPT_POINTS (1) or PROMPT_MASK (2)')


class TargetServices:
    """
    Create and serve the four target services on `node`.

    Args:
        node: the tracker node (services are private: ~/add_target, ...).
        callback_group: group the service callbacks run in.
        active: returns (worker, pipeline) while the node is active, else None.
        timeout_s: longest wait for the worker, s.

    """

    def __init__(self, node: Node, callback_group: CallbackGroup,
                 active: Callable[[], Optional[tuple[Worker, TrackingPipeline]]],
                 timeout_s: float) -> None:
        self._node = node
        self._active = active
        self._timeout_s = timeout_s
        self._services = [
            node.create_service(AddTarget, '~/add_target', self._add,
                                callback_group=callback_group),
            node.create_service(RemoveTarget, '~/remove_target', self._remove,
                                callback_group=callback_group),
            node.create_service(ListTargets, '~/list_targets', self._list,
                                callback_group=callback_group),
            node.create_service(Trigger, '~/reset', self._reset, callback_group=callback_group),
        ]

    def destroy(self) -> None:
        """Remove the services from the node."""
        for service in self._services:
            self._node.destroy_service(service)
        self._services = []

    def _run(self, command: Callable[[TrackingPipeline], Any]) -> Any:
        """Run command(pipeline) on the worker and return its result (its exception raises)."""
        active = self._active()
        if active is None:
            raise Unavailable('the tracker is not active: configure and activate the node first')
        worker, pipeline = active
        future = worker.submit(lambda: command(pipeline))
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeout:
            future.cancel()
            raise Unavailable(f'the tracker did not answer within {self._timeout_s:g} s '
                              '(parameter service_timeout); the request was withdrawn if it had '
                              'not started') from None
        except ValueError:
            raise
        except Exception as exc:  # noqa: B902 - an engine failure must not end the executor
            raise Unavailable(f'{type(exc).__name__}: {exc}') from None

    def _ids(self) -> list[int]:
        try:
            return list(self._run(lambda p: p.target_ids()))
        except Unavailable:
            return []

    def _add(self, req: AddTarget.Request, resp: AddTarget.Response) -> AddTarget.Response:
        modality = req.modality or 'rgb'
        try:
            if modality not in PROMPT_MODALITIES:
                raise ValueError(f'unknown modality {req.modality!r}; expected one of '
                                 f'{list(PROMPT_MODALITIES)} (empty = rgb)')
            prompt = prompt_from_request(req)
            stamp_ns = header_stamp_ns(req.header) or None
            inst = self._run(lambda p: p.add_target(prompt, req.target_id or None,
                                                    req.label or None, stamp_ns, modality))
        except (ValueError, Unavailable) as exc:
            resp.success, resp.message, resp.target_id = False, f'add_target: {exc}', 0
            self._node.get_logger().warning(resp.message)
        else:
            resp.success, resp.target_id = True, inst.target_id
            resp.message = (f'target {inst.target_id} ({inst.label!r}) added, state '
                            f'{inst.state}')
            self._node.get_logger().info(resp.message)
        resp.target_ids = self._ids()
        return resp

    def _remove(self, req: RemoveTarget.Request,
                resp: RemoveTarget.Response) -> RemoveTarget.Response:
        try:
            self._run(lambda p: p.remove_target(int(req.target_id)))
        except (ValueError, Unavailable) as exc:
            resp.success, resp.message = False, f'remove_target: {exc}'
            self._node.get_logger().warning(resp.message)
        else:
            resp.success, resp.message = True, f'target {req.target_id} removed'
        resp.target_ids = self._ids()
        return resp

    def _list(self, req: ListTargets.Request, resp: ListTargets.Response) -> ListTargets.Response:
        try:
            resp.header, resp.targets = self._run(lambda p: p.list_targets())
        except Unavailable as exc:
            self._node.get_logger().warning(f'list_targets: {exc}')
        return resp

    def _reset(self, req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        try:
            self._run(lambda p: p.reset())
        except Unavailable as exc:
            resp.success, resp.message = False, f'reset: {exc}'
        else:
            resp.success, resp.message = True, 'every target removed'
        return resp
