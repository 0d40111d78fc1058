"""Making permissions bite for root: a kernel that drops the capabilities that let root read
and write any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), as an unprivileged user would be.

``DROP_FILE_PRIVILEGES`` is a cell to run in a throwaway kernel before loading the extension:
afterwards ``chmod`` makes a file unreadable or a folder read-only for that kernel (a real
EACCES), while files it owns with normal modes stay usable. As a normal user it changes
nothing (permissions already apply).
"""

DROP_FILE_PRIVILEGES = '''
import ctypes, os
if os.geteuid() == 0:
    class _Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class _Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    _libc = ctypes.CDLL(None, use_errno=True)
    _header, _data = _Header(0x20080522, 0), (_Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    assert _libc.capget(ctypes.byref(_header), _data) == 0, ctypes.get_errno()
    _keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    for _field in ("effective", "permitted", "inheritable"):
        setattr(_data[0], _field, getattr(_data[0], _field) & _keep)
    assert _libc.capset(ctypes.byref(_header), _data) == 0, ctypes.get_errno()
'''
