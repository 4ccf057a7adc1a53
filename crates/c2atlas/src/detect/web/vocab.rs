//! Vocabularies of real program and function names (not attack strings):
//! command names a shell runs and PHP's built-in function names. They come
//! from the OWASP CRS word lists (Apache-2.0, commit 2cbd1d01), which
//! catalogue what is installed on servers: `rules/unix-shell*.data` (the
//! program names only, minus those [`super::sigs`] already lists) and the PHP
//! function-name lists of rules 933150–933153. Used by grammar checks (a
//! command word in a command position, a function name before `(`), never as
//! substrings.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Programs not also everyday words.
pub const UNIX_COMMANDS: &[&str] = &[
    "7zr",
    "7zx",
    "addgroup",
    "agetty",
    "ansible",
    "aptitude",
    "arj-register",
    "arjdisp",
    "ascii-xfr",
    "ascii85",
    "aspell",
    "auditctl",
    "aurepot",
    "ausearch",
    "axel",
    "blkid",
    "brwap",
    "bsdiff",
    "byobu",
    "bzcmp",
    "bzdiff",
    "bzegrep",
    "bzexe",
    "bzfgrep",
    "bzgrep",
    "bzip2recover",
    "bzless",
    "bzmore",
    "bzz",
    "c89-gcc",
    "c99-gcc",
    "cargo-audit",
    "cargo-miri",
    "cargo-watch",
    "check_by_ssh",
    "check_cups",
    "check_log",
    "check_memory",
    "check_raid",
    "check_ssl_cert",
    "check_statusfile",
    "chef",
    "chflags",
    "chgpasswd",
    "chpass",
    "chsh",
    "clang++",
    "clippy-driver",
    "cobcrun",
    "cscli",
    "dhclient",
    "doas",
    "e2fsck",
    "env-update",
    "esh",
    "fdfind",
    "fdisk",
    "fdmount",
    "fdumount",
    "flock",
    "fping6",
    "ftpstats",
    "ftpwho",
    "getcap",
    "getfacl",
    "gpg",
    "grcat",
    "groupmod",
    "gzcat",
    "gzexe",
    "hostid",
    "htdigest",
    "htop",
    "htpasswd",
    "ip6tables",
    "ippeveprinter",
    "ippfind",
    "ipptool",
    "jexec",
    "lastcomm",
    "lastlog",
    "lastlogin",
    "ldd",
    "lessecho",
    "lessfile",
    "lesspipe",
    "lftpget",
    "logname",
    "losetup",
    "ls-f",
    "lscpu",
    "lshw",
    "lspci",
    "lsusb",
    "lwp-dump",
    "lwp-mirror",
    "lz4",
    "lz4c",
    "lz4cat",
    "lzcat",
    "lzcmp",
    "lzdiff",
    "lzegrep",
    "lzfgrep",
    "lzgrep",
    "lzless",
    "lzma",
    "lzmadec",
    "lzmainfo",
    "lzmore",
    "mailq",
    "mailx",
    "mktemp",
    "mlocate",
    "mutt",
    "mysqladmin",
    "mysqldumpslow",
    "mysqlhotcopy",
    "mysqlshow",
    "netkit-ftp",
    "netplan",
    "nping",
    "nstat",
    "pdb2mb",
    "pdb3",
    "pdksh",
    "perlsh",
    "pftp",
    "pgrep",
    "php5",
    "pigz",
    "ping6",
    "pkg",
    "pkg_info",
    "pkginfo",
    "psed",
    "ptar",
    "ptardiff",
    "ptargrep",
    "pxz",
    "py3versions",
    "pyversions",
    "raku",
    "rbash",
    "rcp",
    "rmdir",
    "rmt",
    "rmt-dump",
    "rmt-tar",
    "rmuser",
    "rnano",
    "rsync-ssl",
    "runc",
    "rust-analyzer",
    "rust-gdb",
    "rust-lldb",
    "rustc",
    "rustdoc",
    "rustfmt",
    "rustup",
    "sdiff",
    "sendmail",
    "setcap",
    "setsid",
    "sh.distrib",
    "ssh-add",
    "ssh-copy-id",
    "sudo-rs",
    "sudoedit",
    "sudoreplay",
    "svn",
    "svnadmin",
    "svnauthz",
    "svnbench",
    "svndumpfilter",
    "svnfsfs",
    "svnlook",
    "svnmucc",
    "svnrdump",
    "svnserve",
    "svnsync",
    "svnversion",
    "systemd-resolve",
    "tailf",
    "tcping",
    "tcptraceroute",
    "tcsh",
    "timedatectl",
    "traceroute6",
    "ulimit",
    "uncompress",
    "unlz4",
    "unpigz",
    "unzstd",
    "up2date",
    "visudo",
    "visudo-rs",
    "xzcmp",
    "xzdec",
    "xzdiff",
    "xzegrep",
    "xzfgrep",
    "xzgrep",
    "xzless",
    "xzmore",
    "zcmp",
    "zdiff",
    "zegrep",
    "zfgrep",
    "zgrep",
    "zipcloak",
    "zipcmp",
    "zipdetails",
    "zipgrep",
    "zipinfo",
    "zipmerge",
    "zipnote",
    "zipsplit",
    "ziptool",
    "zless",
    "zmodload",
    "zmore",
    "zrun",
    "zstdgrep",
    "zstdless",
    "zstdmt",
];

/// Programs whose names are also everyday words (`fetch`, `patch`, `history`): a command only
/// when what follows reads as a command line. (One- and two-letter names that are common
/// abbreviations, `l`, `pg`, `es`, are left out.)
pub const UNIX_WEAK_COMMANDS: &[&str] = &[
    "ab",
    "alpine",
    "arch",
    "aws",
    "batch",
    "breaksw",
    "cargo",
    "chdir",
    "compress",
    "coproc",
    "cron",
    "df",
    "du",
    "fc",
    "fetch",
    "fg",
    "filetest",
    "genie",
    "go",
    "hash",
    "highlight",
    "history",
    "hup",
    "jobs",
    "ll",
    "local",
    "locate",
    "onintr",
    "pacman",
    "parted",
    "paste",
    "patch",
    "perf",
    "perms",
    "pico",
    "reboot",
    "rename",
    "repeat",
    "replace",
    "sched",
    "setenv",
    "shutdown",
    "tbl",
    "tex",
    "tic",
    "trap",
    "troff",
    "unlink",
    "volatility",
    "xterm",
    "yes",
];

/// Windows system programs (from Microsoft's command-line reference) that
/// change boot, registry, disk or account state, beyond those [`super::sigs`] lists.
pub const WINDOWS_COMMANDS: &[&str] = &[
    "bcdboot",
    "bcdedit",
    "bootcfg",
    "regedit",
    "regini",
    "diskpart",
    "forfiles",
    "wbadmin",
    "ntdsutil",
    "dsquery",
    "nltest",
    "klist",
    "cmdkey",
    "runas",
    "sdelete",
    "fsutil",
    "auditpol",
    "wecutil",
    "winrm",
    "winrs",
    "esentutl",
    "expand.exe",
    "makecab",
    "mofcomp",
    "pnputil",
];

/// Families of programs named by a prefix (`chef-client`, `aa-disable`, `docker-compose`).
pub const UNIX_COMMAND_PREFIXES: &[&str] = &[
    "aa-",
    "apparmor_",
    "chef-",
    "docker-",
    "dpkg-",
    "ghc-",
    "ghci-",
    "pdb3.",
    "sudo_",
];

/// PHP built-in function names (lower case), one a line.
const PHP_FUNCTIONS_TXT: &str = include_str!("vocab/php-functions.txt");

static PHP_FUNCTIONS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    PHP_FUNCTIONS_TXT
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// Whether `w` (lower case) is a PHP built-in function name of the vocabulary.
pub fn php_function(w: &str) -> bool {
    PHP_FUNCTIONS.contains(w)
}

/// Whether `w` belongs to a [`UNIX_COMMAND_PREFIXES`] family: the prefix
/// then at least two more name characters (`chef-shell`, not `chef-`).
pub fn prefixed_command(w: &str) -> bool {
    UNIX_COMMAND_PREFIXES.iter().any(|p| {
        w.strip_prefix(p).is_some_and(|rest| {
            rest.len() >= 2
                && rest
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies() {
        assert!(php_function("call_user_func"));
        assert!(php_function("array_diff"));
        assert!(!php_function("hello_world"));
        assert!(prefixed_command("chef-client"));
        assert!(prefixed_command("aa-disable"));
        assert!(!prefixed_command("chef-"));
        assert!(!prefixed_command("chefs"));
        assert!(UNIX_COMMANDS.contains(&"ansible"));
        assert!(UNIX_WEAK_COMMANDS.contains(&"patch"));
    }
}
