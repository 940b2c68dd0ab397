"""
Benchmark metrics on numpy arrays: no torch, no ROS, no files.

Modules:
- `errors`: `PredictionError`, raised for malformed predictions (never scored as zero).
- `sot`: OTB / LaSOT one-pass evaluation: success AUC, precision, normalised precision, AO.
- `rgbt`: RGBT234 MPR / MSR and LasHeR PR / NPR / SR as the `rgbt` toolkit computes them.
- `rgbd`: long-term tracking precision / recall / F-score with per-frame confidence.
- `vos`: DAVIS region J, boundary F, J&F with recall and decay.
- `mot`: HOTA, CLEAR (MOTA, MOTP, sMOTSA) and Identity (IDF1) through trackeval's metric classes.

Each module documents its box or mask convention; the reference implementations the tests
compare against are named in requirements/dev.txt.
"""
