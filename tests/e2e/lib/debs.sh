# shellcheck shell=bash
#
# tests/e2e/lib/debs.sh - MTAs that conflict with the installed Postfix
# (Sendmail, Exim: each package is "the MTA") are never installed: their
# .debs are fetched with `apt-get download` and unpacked with `dpkg -x`
# into a cache, once, under a lock, and run from there.
#
#   rd_e2e_fetch_debs LABEL CACHE PKG...
#       CACHE/debs holds the .debs (reused across runs; apt-get update once
#       if a download fails), CACHE/root the tree they unpack to (rebuilt
#       when a .deb was fetched). Prints nothing; bails, naming LABEL, when
#       a package cannot be fetched or unpacked.
#   rd_e2e_debs_env ROOT CMD...
#       run CMD with the libraries of the unpacked tree ROOT
#   rd_e2e_debs_check_libs LABEL ROOT FILE...
#       bail, naming the libraries, when a FILE needs one found neither in
#       ROOT nor installed

rd_e2e_fetch_debs() {
	local label=$1 cache=$2 f log
	shift 2
	local debs=$cache/debs root=$cache/root
	mkdir -p "$debs" || rd_e2e_bail "cannot create $debs"
	log=$cache/fetch.log
	(
		flock -w 300 9 || exit 3
		cd "$debs" || exit 4
		local p missing=()
		for p in "$@"; do
			compgen -G "${p}_*.deb" >/dev/null || missing+=("$p")
		done
		if [ ${#missing[@]} -gt 0 ]; then
			# apt-get download drops privileges to _apt where it can
			chown _apt "$debs" 2>/dev/null
			if ! apt-get download "${missing[@]}" >"$log" 2>&1; then
				apt-get update -qq >>"$log" 2>&1
				apt-get download "${missing[@]}" >>"$log" 2>&1 || exit 5
			fi
			rm -rf "$root"
		fi
		if [ ! -e "$root/.complete" ]; then
			rm -rf "$root" "$root.tmp"
			mkdir -p "$root.tmp"
			for f in ./*.deb; do
				dpkg -x "$f" "$root.tmp" || exit 6
			done
			touch "$root.tmp/.complete"
			mv "$root.tmp" "$root"
		fi
	) 9>"$cache/.lock"
	case $? in
	0) ;;
	3) rd_e2e_bail "$label packages: could not lock $cache/.lock within 300 s" ;;
	5) rd_e2e_bail "$label packages: apt-get download $* failed: $(tail -n 5 "$log")" ;;
	*) rd_e2e_bail "$label packages: could not unpack the .debs in $debs" ;;
	esac
}

rd_e2e_debs_env() {
	local root=$1
	shift
	LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu "$@"
}

rd_e2e_debs_check_libs() {
	local label=$1 root=$2 f missing
	shift 2
	for f in "$@"; do
		[ -e "$f" ] || rd_e2e_bail "$label packages: $f missing in the unpacked tree (remove the cache to fetch again)"
		missing=$(rd_e2e_debs_env "$root" ldd "$f" 2>&1 | awk '/not found/ { print $1 }' | sort -u | tr '\n' ' ')
		[ -z "$missing" ] ||
			rd_e2e_bail "$f: shared libraries not found: $missing(install them with apt-get; see scripts/install-deps.sh)"
	done
}
