/* libarchive: layer unpacking and `stack load`/`save` (src/image/unpack.c, archive.c),
 * volume snapshots (src/volume/snapshot.c),
 * opened on first use (util/lazylib.h). Include this instead of the library's own
 * headers; when the code starts calling another of its functions, add it to the X-macro
 * list and to the #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_ARCHIVE_H
#define STK_UTIL_LAZY_ARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

#include "util/lazylib.h"

#define STK_ARCHIVE_FUNCTIONS(X) \
	X(archive_entry_copy_hardlink) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_hardlink) \
	X(archive_entry_linkify) \
	X(archive_entry_linkresolver_free) \
	X(archive_entry_linkresolver_new) \
	X(archive_entry_linkresolver_set_strategy) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_rdev) \
	X(archive_entry_set_size) \
	X(archive_entry_set_symlink) \
	X(archive_entry_set_uid) \
	X(archive_entry_size) \
	X(archive_entry_xattr_add_entry) \
	X(archive_entry_xattr_clear) \
	X(archive_entry_xattr_next) \
	X(archive_entry_xattr_reset) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_read_data) \
	X(archive_read_data_block) \
	X(archive_read_disk_descend) \
	X(archive_read_disk_new) \
	X(archive_read_disk_open) \
	X(archive_read_disk_set_behavior) \
	X(archive_read_disk_set_symlink_physical) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_next_header2) \
	X(archive_read_open) \
	X(archive_read_open_fd) \
	X(archive_read_open_filename) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_none) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_raw) \
	X(archive_read_support_format_tar) \
	X(archive_set_error) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_data_block) \
	X(archive_write_disk_new) \
	X(archive_write_disk_set_options) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open_fd) \
	X(archive_write_open_filename) \
	X(archive_write_set_format_pax_restricted)

STK_LAZYLIB_DECLARE(archive, STK_ARCHIVE_FUNCTIONS)

#ifndef STK_LAZY_DEFINING
#define archive_entry_copy_hardlink STK_LAZY(archive, archive_entry_copy_hardlink)
#define archive_entry_filetype STK_LAZY(archive, archive_entry_filetype)
#define archive_entry_free STK_LAZY(archive, archive_entry_free)
#define archive_entry_hardlink STK_LAZY(archive, archive_entry_hardlink)
#define archive_entry_linkify STK_LAZY(archive, archive_entry_linkify)
#define archive_entry_linkresolver_free STK_LAZY(archive, archive_entry_linkresolver_free)
#define archive_entry_linkresolver_new STK_LAZY(archive, archive_entry_linkresolver_new)
#define archive_entry_linkresolver_set_strategy \
	STK_LAZY(archive, archive_entry_linkresolver_set_strategy)
#define archive_entry_new STK_LAZY(archive, archive_entry_new)
#define archive_entry_pathname STK_LAZY(archive, archive_entry_pathname)
#define archive_entry_set_filetype STK_LAZY(archive, archive_entry_set_filetype)
#define archive_entry_set_gid STK_LAZY(archive, archive_entry_set_gid)
#define archive_entry_set_mtime STK_LAZY(archive, archive_entry_set_mtime)
#define archive_entry_set_pathname STK_LAZY(archive, archive_entry_set_pathname)
#define archive_entry_set_perm STK_LAZY(archive, archive_entry_set_perm)
#define archive_entry_set_rdev STK_LAZY(archive, archive_entry_set_rdev)
#define archive_entry_set_size STK_LAZY(archive, archive_entry_set_size)
#define archive_entry_set_symlink STK_LAZY(archive, archive_entry_set_symlink)
#define archive_entry_set_uid STK_LAZY(archive, archive_entry_set_uid)
#define archive_entry_size STK_LAZY(archive, archive_entry_size)
#define archive_entry_xattr_add_entry STK_LAZY(archive, archive_entry_xattr_add_entry)
#define archive_entry_xattr_clear STK_LAZY(archive, archive_entry_xattr_clear)
#define archive_entry_xattr_next STK_LAZY(archive, archive_entry_xattr_next)
#define archive_entry_xattr_reset STK_LAZY(archive, archive_entry_xattr_reset)
#define archive_errno STK_LAZY(archive, archive_errno)
#define archive_error_string STK_LAZY(archive, archive_error_string)
#define archive_read_data STK_LAZY(archive, archive_read_data)
#define archive_read_data_block STK_LAZY(archive, archive_read_data_block)
#define archive_read_disk_descend STK_LAZY(archive, archive_read_disk_descend)
#define archive_read_disk_new STK_LAZY(archive, archive_read_disk_new)
#define archive_read_disk_open STK_LAZY(archive, archive_read_disk_open)
#define archive_read_disk_set_behavior STK_LAZY(archive, archive_read_disk_set_behavior)
#define archive_read_disk_set_symlink_physical \
	STK_LAZY(archive, archive_read_disk_set_symlink_physical)
#define archive_read_free STK_LAZY(archive, archive_read_free)
#define archive_read_new STK_LAZY(archive, archive_read_new)
#define archive_read_next_header STK_LAZY(archive, archive_read_next_header)
#define archive_read_next_header2 STK_LAZY(archive, archive_read_next_header2)
#define archive_read_open STK_LAZY(archive, archive_read_open)
#define archive_read_open_fd STK_LAZY(archive, archive_read_open_fd)
#define archive_read_open_filename STK_LAZY(archive, archive_read_open_filename)
#define archive_read_support_filter_all STK_LAZY(archive, archive_read_support_filter_all)
#define archive_read_support_filter_gzip STK_LAZY(archive, archive_read_support_filter_gzip)
#define archive_read_support_filter_none STK_LAZY(archive, archive_read_support_filter_none)
#define archive_read_support_filter_zstd STK_LAZY(archive, archive_read_support_filter_zstd)
#define archive_read_support_format_raw STK_LAZY(archive, archive_read_support_format_raw)
#define archive_read_support_format_tar STK_LAZY(archive, archive_read_support_format_tar)
#define archive_set_error STK_LAZY(archive, archive_set_error)
#define archive_write_close STK_LAZY(archive, archive_write_close)
#define archive_write_data STK_LAZY(archive, archive_write_data)
#define archive_write_data_block STK_LAZY(archive, archive_write_data_block)
#define archive_write_disk_new STK_LAZY(archive, archive_write_disk_new)
#define archive_write_disk_set_options STK_LAZY(archive, archive_write_disk_set_options)
#define archive_write_finish_entry STK_LAZY(archive, archive_write_finish_entry)
#define archive_write_free STK_LAZY(archive, archive_write_free)
#define archive_write_header STK_LAZY(archive, archive_write_header)
#define archive_write_new STK_LAZY(archive, archive_write_new)
#define archive_write_open_fd STK_LAZY(archive, archive_write_open_fd)
#define archive_write_open_filename STK_LAZY(archive, archive_write_open_filename)
#define archive_write_set_format_pax_restricted \
	STK_LAZY(archive, archive_write_set_format_pax_restricted)
#endif

#endif
