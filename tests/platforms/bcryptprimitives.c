/* Wine 8.0 (Debian 12) lacks bcryptprimitives.dll, whose ProcessPrng Rust's
 * standard library imports on Windows (HashMap keys). This stand-in, for the
 * Wine test run only, answers it with RtlGenRandom (SystemFunction036). */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
