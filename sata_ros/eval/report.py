"""
The report of an offline bag evaluation: report.json, report.md and PNG plots.

`write_report(result, out_dir)` takes the dict of eval/replay.py's `evaluate_bag` and writes:
- `report.json`: the result without the overlay images (plain JSON, indented).
- `report.md`: the headline numbers in a table (the same strings `headline` gives the CLI),
  per-target SOT / VOS rows and links to the plots.
- `success.png`: the SOT success curve (rate of frames with IoU above each threshold), AUC in
  the legend; `precision.png`: the precision curve (rate of frames with centre error within
  each distance, px), the value at 20 px in the legend; `iou_over_time.png`: per-target
  per-frame IoU against the frame index. These need SOT results.
- `overlays.png`: a grid of RGB thumbnails with predicted boxes (orange, dashed) and
  ground-truth boxes (green).
- `animation.gif`: every frame with its boxes (eval/animation.py), when the result has
  `animation` items.

Plots use matplotlib (Agg canvas, no pyplot, no display). matplotlib is imported only when a
plot is drawn, so this module imports without it.
"""

import json
import pathlib
from typing import Any, Optional, Union

from sata_ros.eval.replay import result_for_json

PRED_COLOUR = '#ff7f0e'  # predicted boxes in the overlays
GT_COLOUR = '#2ca02c'  # ground-truth boxes in the overlays


def _fraction(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.4f}'


def headline(result: dict[str, Any]) -> list[tuple[str, str]]:
    """
    Return the headline numbers as (label, text) rows, as the CLI prints them.

    Args:
        result: an `evaluate_bag` result.

    Returns:
        Rows for the tasks that were scored: SOT AUC, SOT precision@20px, SOT norm. precision,
        VOS J&F, VOS J, VOS F, MOT HOTA, MOT DetA, MOT AssA, MOT MOTA, MOT IDF1 (fractions with
        4 decimals), MOT IDSW (count), in live mode the dropped frames (count), and the
        p50 / p95 time per frame (live: end-to-end latency; ms, 1 decimal).

    """
    rows: list[tuple[str, str]] = []
    sot, vos, mot = result.get('sot'), result.get('vos'), result.get('mot')
    if sot:
        rows += [('SOT AUC', _fraction(sot['auc'])),
                 ('SOT precision@20px', _fraction(sot['precision_20'])),
                 ('SOT norm. precision', _fraction(sot['norm_precision']))]
    if vos:
        rows += [('VOS J&F', _fraction(vos['j_and_f'])), ('VOS J', _fraction(vos['j'])),
                 ('VOS F', _fraction(vos['f']))]
    if mot:
        rows += [(f'MOT {key}', _fraction(mot[key]))
                 for key in ('HOTA', 'DetA', 'AssA', 'MOTA', 'IDF1')]
        rows.append(('MOT IDSW', str(mot['IDSW'])))
    timing = result.get('timing_ms') or {}
    live = result.get('live')
    if live:
        rows.append(('dropped frames', str(live['dropped'])))
    if timing.get('p50') is not None:
        what = 'latency' if live else 'time'  # live: publish -> output, wall clock
        rows += [(f'{what} p50 (ms/frame)', f'{timing["p50"]:.1f}'),
                 (f'{what} p95 (ms/frame)', f'{timing["p95"]:.1f}')]
    return rows


def markdown(result: dict[str, Any], plots: Optional[dict[str, pathlib.Path]] = None) -> str:
    """
    Render the Markdown summary of a result.

    Args:
        result: an `evaluate_bag` result.
        plots: plot name -> PNG path, linked by file name at the end.

    Returns:
        Markdown text: a header line, the headline table, per-target rows, skipped tasks.

    """
    lines = [f'# sata eval: {result["name"]}', '',
             f'Bag `{result["bag"]}`, {result["frames"]} frames '
             f'({result["size"][0]}x{result["size"][1]}), modalities '
             f'{"+".join(result["modalities"])}, checkpoint `{result["checkpoint"] or "-"}`. '
             'Offline replay (in-process, deterministic); fractions in [0, 1].', '',
             '| metric | value |', '|---|---|']
    lines += [f'| {label} | {text} |' for label, text in headline(result)]
    sot, vos = result.get('sot'), result.get('vos')
    if sot:
        vos_by_id = {row['id']: row for row in (vos or {}).get('per_target', [])}
        lines += ['', '## Targets', '',
                  '| id | start frame | SOT AUC | precision@20px | VOS J&F |',
                  '|---|---|---|---|---|']
        for row in sot['per_target']:
            jf = vos_by_id.get(row['id'], {}).get('j_and_f')
            lines.append(f'| {row["id"]} | {row["start"]} | {_fraction(row["auc"])} | '
                         f'{_fraction(row["precision_20"])} | {_fraction(jf)} |')
    if result.get('unprompted'):
        lines.append(f'\nNever visible enough to prompt (not scored): target(s) '
                     f'{", ".join(str(i) for i in result["unprompted"])}.')
    for task, why in (result.get('skipped') or {}).items():
        lines.append(f'\n{task.upper()} not scored: {why}.')
    if plots:
        lines += ['', '## Plots', '']
        lines += [f'![{name}]({path.name})' for name, path in plots.items()]
    return '\n'.join(lines) + '\n'


def write_report(result: dict[str, Any],
                 out_dir: Union[str, pathlib.Path]) -> dict[str, pathlib.Path]:
    """
    Write report.json, report.md and the PNG plots of `result` into `out_dir`.

    Args:
        result: an `evaluate_bag` result (with its overlay images for overlays.png).
        out_dir: created if needed; files of an earlier report there are replaced.

    Returns:
        'json', 'markdown' and, where the data exist, 'success', 'precision',
        'iou_over_time', 'overlays', 'animation' -> the path written.

    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = draw_plots(result, out)
    paths = {'json': out / 'report.json', 'markdown': out / 'report.md'}
    paths['json'].write_text(json.dumps(result_for_json(result), indent=2) + '\n')
    paths['markdown'].write_text(markdown(result, plots))
    if result.get('animation'):
        from sata_ros.eval.animation import write_animation
        paths['animation'] = write_animation(result['animation'], out / 'animation.gif')
    return {**paths, **plots}


def draw_plots(result: dict[str, Any], out: pathlib.Path) -> dict[str, pathlib.Path]:
    """
    Draw the PNG plots the result has data for (matplotlib imported here).

    Args:
        result: an `evaluate_bag` result.
        out: an existing folder.

    Returns:
        Plot name -> path written: 'success', 'precision', 'iou_over_time' (with SOT
        results) and 'overlays' (with overlay frames).

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    def save(fig: Any, name: str) -> pathlib.Path:
        FigureCanvasAgg(fig)
        path = out / f'{name}.png'
        fig.savefig(path, dpi=100)
        return path

    paths: dict[str, pathlib.Path] = {}
    sot = result.get('sot')
    if sot:
        fig = Figure(figsize=(5, 4), layout='constrained')
        ax = fig.add_subplot()
        ax.plot(sot['success_thresholds'], sot['success_curve'],
                label=f'SATA (AUC {sot["auc"]:.3f})')
        ax.set(xlabel='IoU threshold', ylabel='success rate', xlim=(0, 1), ylim=(0, 1.02),
               title='Success plot')
        ax.legend(loc='lower left')
        ax.grid(alpha=0.3)
        paths['success'] = save(fig, 'success')

        fig = Figure(figsize=(5, 4), layout='constrained')
        ax = fig.add_subplot()
        ax.plot(sot['precision_thresholds'], sot['precision_curve'],
                label=f'SATA (P@20px {sot["precision_20"]:.3f})')
        ax.axvline(20, color='grey', linestyle=':', linewidth=1)
        ax.set(xlabel='centre error threshold (px)', ylabel='precision', xlim=(0, 50),
               ylim=(0, 1.02), title='Precision plot')
        ax.legend(loc='lower right')
        ax.grid(alpha=0.3)
        paths['precision'] = save(fig, 'precision')

        fig = Figure(figsize=(7, 3.5), layout='constrained')
        ax = fig.add_subplot()
        for row in sot['per_target']:
            ax.plot(range(row['start'], row['start'] + len(row['iou'])), row['iou'],
                    label=f'target {row["id"]} (AUC {row["auc"]:.3f})')
        ax.set(xlabel='frame', ylabel='IoU', ylim=(0, 1.02), title='IoU over time')
        ax.legend(loc='best', fontsize='small')
        ax.grid(alpha=0.3)
        paths['iou_over_time'] = save(fig, 'iou_over_time')

    overlays = [item for item in result.get('overlays', []) if 'rgb' in item]
    if overlays:
        cols = min(3, len(overlays))
        rows = -(-len(overlays) // cols)
        height, width = overlays[0]['rgb'].shape[:2]
        fig = Figure(figsize=(3.2 * cols, 3.2 * rows * height / width + 0.4),
                     layout='constrained')
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, item in zip(axes.flat, overlays):
            ax.imshow(item['rgb'])
            for boxes, colour, style in ((item['gt'], GT_COLOUR, '-'),
                                         (item['pred'], PRED_COLOUR, '--')):
                for _, x, y, w, h in boxes:  # imshow centres pixel (r, c) on (c, r)
                    ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False,
                                           edgecolor=colour, linestyle=style, linewidth=1.5))
            ax.set_title(f'frame {item["frame"]}', fontsize='small')
        fig.suptitle(f'predicted ({overlays[0]["source"].upper()}, orange, dashed) and ground '
                     'truth (green)', fontsize='small')
        paths['overlays'] = save(fig, 'overlays')
    return paths


__all__ = ['draw_plots', 'GT_COLOUR', 'headline', 'markdown', 'PRED_COLOUR', 'write_report']
