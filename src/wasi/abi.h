// WASI preview 1 ABI constants and guest-memory layouts, as defined by
// wasi_snapshot_preview1 (witx) and checked against wasi-libc's
// <wasi/api.h>. Internal to wasi/.
#pragma once

#include <cstdint>

namespace rusm::wasi::abi {

// errno
inline constexpr uint16_t kSuccess = 0;
inline constexpr uint16_t k2Big = 1;
inline constexpr uint16_t kAcces = 2;
inline constexpr uint16_t kAgain = 6;
inline constexpr uint16_t kBadf = 8;
inline constexpr uint16_t kBusy = 10;
inline constexpr uint16_t kExist = 20;
inline constexpr uint16_t kFault = 21;
inline constexpr uint16_t kFbig = 22;
inline constexpr uint16_t kIntr = 27;
inline constexpr uint16_t kInval = 28;
inline constexpr uint16_t kIo = 29;
inline constexpr uint16_t kIsdir = 31;
inline constexpr uint16_t kLoop = 32;
inline constexpr uint16_t kMfile = 33;
inline constexpr uint16_t kMlink = 34;
inline constexpr uint16_t kNametoolong = 37;
inline constexpr uint16_t kNfile = 41;
inline constexpr uint16_t kNodev = 43;
inline constexpr uint16_t kNoent = 44;
inline constexpr uint16_t kNomem = 48;
inline constexpr uint16_t kNospc = 51;
inline constexpr uint16_t kNosys = 52;
inline constexpr uint16_t kNotdir = 54;
inline constexpr uint16_t kNotempty = 55;
inline constexpr uint16_t kNotsock = 57;
inline constexpr uint16_t kNotsup = 58;
inline constexpr uint16_t kNotty = 59;
inline constexpr uint16_t kNxio = 60;
inline constexpr uint16_t kOverflow = 61;
inline constexpr uint16_t kPerm = 63;
inline constexpr uint16_t kPipe = 64;
inline constexpr uint16_t kRange = 68;
inline constexpr uint16_t kRofs = 69;
inline constexpr uint16_t kSpipe = 70;
inline constexpr uint16_t kTxtbsy = 74;
inline constexpr uint16_t kXdev = 75;
inline constexpr uint16_t kNotcapable = 76;

// clockid
inline constexpr uint32_t kClockRealtime = 0;
inline constexpr uint32_t kClockMonotonic = 1;
inline constexpr uint32_t kClockProcessCputime = 2;
inline constexpr uint32_t kClockThreadCputime = 3;

// rights
inline constexpr uint64_t kRightFdDatasync = 1ull << 0;
inline constexpr uint64_t kRightFdRead = 1ull << 1;
inline constexpr uint64_t kRightFdSeek = 1ull << 2;
inline constexpr uint64_t kRightFdFdstatSetFlags = 1ull << 3;
inline constexpr uint64_t kRightFdSync = 1ull << 4;
inline constexpr uint64_t kRightFdTell = 1ull << 5;
inline constexpr uint64_t kRightFdWrite = 1ull << 6;
inline constexpr uint64_t kRightFdAdvise = 1ull << 7;
inline constexpr uint64_t kRightFdAllocate = 1ull << 8;
inline constexpr uint64_t kRightPathCreateDirectory = 1ull << 9;
inline constexpr uint64_t kRightPathCreateFile = 1ull << 10;
inline constexpr uint64_t kRightPathLinkSource = 1ull << 11;
inline constexpr uint64_t kRightPathLinkTarget = 1ull << 12;
inline constexpr uint64_t kRightPathOpen = 1ull << 13;
inline constexpr uint64_t kRightFdReaddir = 1ull << 14;
inline constexpr uint64_t kRightPathReadlink = 1ull << 15;
inline constexpr uint64_t kRightPathRenameSource = 1ull << 16;
inline constexpr uint64_t kRightPathRenameTarget = 1ull << 17;
inline constexpr uint64_t kRightPathFilestatGet = 1ull << 18;
inline constexpr uint64_t kRightPathFilestatSetSize = 1ull << 19;
inline constexpr uint64_t kRightPathFilestatSetTimes = 1ull << 20;
inline constexpr uint64_t kRightFdFilestatGet = 1ull << 21;
inline constexpr uint64_t kRightFdFilestatSetSize = 1ull << 22;
inline constexpr uint64_t kRightFdFilestatSetTimes = 1ull << 23;
inline constexpr uint64_t kRightPathSymlink = 1ull << 24;
inline constexpr uint64_t kRightPathRemoveDirectory = 1ull << 25;
inline constexpr uint64_t kRightPathUnlinkFile = 1ull << 26;
inline constexpr uint64_t kRightPollFdReadwrite = 1ull << 27;
inline constexpr uint64_t kRightSockShutdown = 1ull << 28;
inline constexpr uint64_t kRightSockAccept = 1ull << 29;
inline constexpr uint64_t kRightsAll = (1ull << 30) - 1;

// Rights that modify a file or a directory: never granted under a read-only preopen.
inline constexpr uint64_t kRightsWrite =
    kRightFdDatasync | kRightFdWrite | kRightFdAllocate | kRightPathCreateDirectory |
    kRightPathCreateFile | kRightPathLinkSource | kRightPathLinkTarget | kRightPathRenameSource |
    kRightPathRenameTarget | kRightPathFilestatSetSize | kRightPathFilestatSetTimes |
    kRightFdFilestatSetSize | kRightFdFilestatSetTimes | kRightPathSymlink |
    kRightPathRemoveDirectory | kRightPathUnlinkFile;

// The rights that mean something on a directory, and on anything else (a
// regular file, a FIFO, a device). A descriptor holds only those of its
// type: a directory has no position (no fd_seek/fd_tell), no data to read or
// write; a file has no path_* calls and no fd_readdir.
inline constexpr uint64_t kRightsDirectory =
    kRightFdDatasync | kRightFdFdstatSetFlags | kRightFdSync | kRightFdReaddir |
    kRightFdFilestatGet | kRightFdFilestatSetTimes | kRightPathCreateDirectory |
    kRightPathCreateFile | kRightPathLinkSource | kRightPathLinkTarget | kRightPathOpen |
    kRightPathReadlink | kRightPathRenameSource | kRightPathRenameTarget | kRightPathFilestatGet |
    kRightPathFilestatSetSize | kRightPathFilestatSetTimes | kRightPathSymlink |
    kRightPathRemoveDirectory | kRightPathUnlinkFile;
inline constexpr uint64_t kRightsFile =
    kRightFdDatasync | kRightFdRead | kRightFdSeek | kRightFdFdstatSetFlags | kRightFdSync |
    kRightFdTell | kRightFdWrite | kRightFdAdvise | kRightFdAllocate | kRightFdFilestatGet |
    kRightFdFilestatSetSize | kRightFdFilestatSetTimes | kRightPollFdReadwrite;

// filetype
inline constexpr uint8_t kFiletypeUnknown = 0;
inline constexpr uint8_t kFiletypeBlockDevice = 1;
inline constexpr uint8_t kFiletypeCharacterDevice = 2;
inline constexpr uint8_t kFiletypeDirectory = 3;
inline constexpr uint8_t kFiletypeRegularFile = 4;
inline constexpr uint8_t kFiletypeSocketDgram = 5;
inline constexpr uint8_t kFiletypeSocketStream = 6;
inline constexpr uint8_t kFiletypeSymbolicLink = 7;

// whence
inline constexpr uint32_t kWhenceSet = 0;
inline constexpr uint32_t kWhenceCur = 1;
inline constexpr uint32_t kWhenceEnd = 2;

// fdflags
inline constexpr uint16_t kFdflagAppend = 1 << 0;
inline constexpr uint16_t kFdflagDsync = 1 << 1;
inline constexpr uint16_t kFdflagNonblock = 1 << 2;
inline constexpr uint16_t kFdflagRsync = 1 << 3;
inline constexpr uint16_t kFdflagSync = 1 << 4;

// fstflags
inline constexpr uint16_t kFstAtim = 1 << 0;
inline constexpr uint16_t kFstAtimNow = 1 << 1;
inline constexpr uint16_t kFstMtim = 1 << 2;
inline constexpr uint16_t kFstMtimNow = 1 << 3;

// lookupflags
inline constexpr uint32_t kLookupSymlinkFollow = 1 << 0;

// oflags
inline constexpr uint16_t kOflagCreat = 1 << 0;
inline constexpr uint16_t kOflagDirectory = 1 << 1;
inline constexpr uint16_t kOflagExcl = 1 << 2;
inline constexpr uint16_t kOflagTrunc = 1 << 3;

// eventtype
inline constexpr uint8_t kEventClock = 0;
inline constexpr uint8_t kEventFdRead = 1;
inline constexpr uint8_t kEventFdWrite = 2;
inline constexpr uint16_t kEventRwHangup = 1 << 0;
inline constexpr uint16_t kSubclockAbstime = 1 << 0;

// advice
inline constexpr uint32_t kAdviceNoreuse = 5;

// preopentype
inline constexpr uint8_t kPreopenDir = 0;

// Layouts (byte sizes and offsets in guest memory).
inline constexpr uint32_t kIovecSize = 8;    // {u32 buf, u32 buf_len}
inline constexpr uint32_t kFdstatSize = 24;  // filetype@0 u8, flags@2 u16, base@8, inheriting@16
inline constexpr uint32_t kFilestatSize =
    64;                                      // dev, ino, filetype@16, nlink, size, atim, mtim, ctim
inline constexpr uint32_t kDirentSize = 24;  // d_next@0, d_ino@8, d_namlen@16 u32, d_type@20 u8
inline constexpr uint32_t kPrestatSize = 8;  // tag@0 u8, pr_name_len@4 u32
inline constexpr uint32_t kSubscriptionSize = 48;  // userdata@0, tag@8 u8, union@16
inline constexpr uint32_t kEventSize =
    32;  // userdata@0, error@8 u16, type@10 u8, nbytes@16, flags@24

}  // namespace rusm::wasi::abi
