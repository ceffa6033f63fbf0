"""The SDK's public face is one sorted ``__all__`` (as httpx keeps it)."""

import gxpml
import gxpml.errors


def test_all_is_sorted_and_complete() -> None:
    assert gxpml.__all__ == sorted(gxpml.__all__)
    for name in gxpml.__all__:
        assert hasattr(gxpml, name), name


def test_every_error_maps_to_an_http_status_and_an_exit_code() -> None:
    errors = [getattr(gxpml.errors, n) for n in gxpml.errors.__all__]
    for error in errors:
        assert issubclass(error, gxpml.GxpmlError)
        assert 400 <= error.http_status < 600
        assert error.exit_code >= 1
    assert gxpml.NotFound.http_status == 404 and gxpml.PermissionDenied.http_status == 403
    assert gxpml.AuthenticationError.http_status == 401
    assert len({e.exit_code for e in errors if e.__bases__ == (gxpml.GxpmlError,)}) == 9  # one code per branch
