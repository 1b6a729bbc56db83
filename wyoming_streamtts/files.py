"""Folders a user points the server at (models, voices): why this user cannot read them, and the fix.

A Docker volume or a copied folder often belongs to another user; without this, such a
folder read as empty or as missing files ("no Piper voices in ...", "lacks model.pth").
"""

import os
from pathlib import Path


def unreadable(folder: Path) -> str | None:
    """What this user may not read in `folder` (the folder or a file in it), said with the fix; None if all
    can be read, or the folder is not there (that is another message)."""
    try:
        entries = list(folder.iterdir())
    except PermissionError:
        return _denied(folder, folder)
    except OSError:
        return None
    for entry in entries:
        if not os.access(entry, os.R_OK):
            return _denied(entry, folder)
    return None


def _denied(path: Path, folder: Path) -> str:
    return (
        f"permission denied on {path}: this server runs as uid {os.getuid()}, which cannot read it. "
        f"Make it readable (chmod -R a+rX {folder}) or give it to that user"
    )
