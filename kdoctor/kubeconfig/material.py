"""Read the CA, client certificate, key and token file the selected context names (never raises)."""

from __future__ import annotations

import os
import stat

from kdoctor.kubeconfig.model import (
    Blob,
    Material,
    Selection,
)
from kdoctor.kubeconfig.validation import decode_base64

#: Certificates, keys and token files are small; anything bigger is not what the field should name.
MAX_MATERIAL_BYTES = 1024 * 1024


def read_blob(path: str, field_name: str, limit: int = MAX_MATERIAL_BYTES) -> Blob:
    """Read a small file named by a kubeconfig field; errors become `Blob.error`, never exceptions."""
    mode: int | None = None
    try:
        info = os.stat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            return Blob(field_name, path, path, error="is a directory, not a file", mode=mode)
        if not stat.S_ISREG(info.st_mode):
            return Blob(field_name, path, path, error="is not a regular file", mode=mode)
        if info.st_size > limit:
            return Blob(
                field_name, path, path, error=f"is {info.st_size:,} bytes, too big for this field", mode=mode
            )
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return Blob(field_name, path, path, error="does not exist")
    except NotADirectoryError:
        return Blob(field_name, path, path, error="does not exist (a parent is not a directory)")
    except PermissionError:
        return Blob(field_name, path, path, error="is not readable (permission denied)", mode=mode)
    except OSError as exc:
        return Blob(field_name, path, path, error=f"cannot be read ({exc.strerror or exc})", mode=mode)
    except ValueError:
        # Python refuses a NUL byte in a path before any system call; Go's open says "invalid argument".
        return Blob(
            field_name,
            path,
            path,
            error="cannot be opened: the path holds a NUL byte (kubectl: invalid argument)",
        )
    return Blob(field_name, path, path, data=data, mode=mode)


def _data_blob(text: str, field_name: str, owner: str) -> Blob:
    data = decode_base64(text)
    if data is None:
        return Blob(field_name, f"{field_name} of {owner}", error="is not valid base64")
    return Blob(field_name, f"{field_name} of {owner}", data=data)


def gather_material(selection: Selection) -> Material:
    """Read what the selected cluster and user point at. Both file and data set: the data is read."""
    ca = cert = key = token_file = None
    cluster, user = selection.cluster, selection.user
    if cluster is not None:
        owner = f"cluster {cluster.name} in {cluster.origin}"
        if cluster.certificate_authority_data:
            ca = _data_blob(cluster.certificate_authority_data, "certificate-authority-data", owner)
        elif cluster.certificate_authority:
            ca = read_blob(cluster.certificate_authority, "certificate-authority")
    if user is not None:
        owner = f"user {user.name} in {user.origin}"
        if user.client_certificate_data:
            cert = _data_blob(user.client_certificate_data, "client-certificate-data", owner)
        elif user.client_certificate:
            cert = read_blob(user.client_certificate, "client-certificate")
        if user.client_key_data is not None:
            key = _data_blob(user.client_key_data.reveal(), "client-key-data", owner)
        elif user.client_key:
            key = read_blob(user.client_key, "client-key")
        if user.token_file:
            token_file = read_blob(user.token_file, "tokenFile")
    return Material(ca=ca, client_cert=cert, client_key=key, token_file=token_file)
