"""A real RTSP/H.264 server (gst-rtsp-server) for tests. Runs under Debian's /usr/bin/python3 (python3-gi).

Usage: /usr/bin/python3 gst_rtsp_server.py PORT
Mounts (640x360, 10 fps, H.264, 1 s GOP, a clock burnt in at the top): /live (an animated zone
plate), /black, /snow; and /live1080 (1920x1080, 25 fps, 4 Mb/s) for benchmarks.
Prints "ready" when it serves. Binds 127.0.0.1 only.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PATTERNS = {
    "live": "zone-plate kx2=20 ky2=20 kt=1",  # a moving, textured picture: healthy
    "black": "black",
    "snow": "snow",
}


def main() -> None:
    """Serve until killed."""
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    mounts = server.get_mount_points()
    streams = [(m, p, 640, 360, 10, 600) for m, p in PATTERNS.items()]
    streams.append(("live1080", PATTERNS["live"], 1920, 1080, 25, 4000))  # a main stream, for benchmarks
    for mount, pattern, width, height, fps, kbps in streams:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f"( videotestsrc is-live=true pattern={pattern} "
            f"! video/x-raw,width={width},height={height},framerate={fps}/1 "
            '! timeoverlay halignment=left valignment=top font-desc="Sans 14" '
            f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate={kbps} "
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory.set_shared(True)
        mounts.add_factory(f"/{mount}", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
