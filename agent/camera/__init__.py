"""Cameras: the driver (``driver``), stream reading and image metrics (``video``), the diagnosis
of covered, frozen, black or blurred pictures (``vqd``), ONVIF (``onvif``), the shared decoding
pool (``pool``) and the JPEGs kept for alarms (``snapshots``). Imported only when a camera is
configured, so a gateway without cameras never loads OpenCV.
"""
