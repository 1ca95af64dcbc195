"""Handle avatar uploads for the profile page."""

import os
import uuid

UPLOAD_DIR = "/srv/app/uploads"
ALLOWED_TYPES = {"image/png", "image/jpeg"}


class UploadError(Exception):
    pass


def check_type(request) -> str:
    """The upload's media type, if it is one we accept."""
    content_type = request.headers.get("Content-Type", "")
    if content_type not in ALLOWED_TYPES:
        raise UploadError(f"unsupported type {content_type}")
    return content_type


def read_body(request) -> bytes:
    """The uploaded bytes."""
    return request.stream.read()


def save_avatar(request) -> str:
    """Store the uploaded avatar and return its public URL."""
    check_type(request)
    data = read_body(request)
    filename = request.args.get("filename") or f"{uuid.uuid4().hex}.png"
    path = os.path.join(UPLOAD_DIR, filename)
    with open(path, "wb") as fh:
        fh.write(data)
    return f"/uploads/{filename}"


def delete_avatar(user, filename: str) -> None:
    """Remove an avatar the user uploaded earlier."""
    if filename not in user.avatars:
        raise UploadError("not your file")
    path = os.path.join(UPLOAD_DIR, os.path.basename(filename))
    if os.path.exists(path):
        os.remove(path)
    user.avatars.remove(filename)


def list_avatars(user) -> list[str]:
    """Public URLs of a user's avatars, newest first."""
    return [f"/uploads/{name}" for name in reversed(user.avatars)]
