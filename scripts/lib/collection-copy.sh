# shellcheck shell=bash
# Sourced by scripts/sanity and scripts/lint: copy the checkout into a temporary
# .../ansible_collections/airgap/mirror, the layout ansible-test requires and ansible-lint
# resolves airgap.mirror.* from. Only files git knows about are copied (tracked and staged; with
# untracked=1 also untracked files that are not ignored), so CI and a developer's tree lint the
# same content, and tool caches (ansible-lint's .ansible/) land in the copy, not the checkout.
#
#   collection_copy <checkout> <untracked 0|1>   sets COPY_WORK (remove it) and COPY (the root)

collection_copy() {
    local root=$1 untracked=$2
    COPY_WORK=$(mktemp -d "${TMPDIR:-/tmp}/airgap-collection.XXXXXX")
    COPY="$COPY_WORK/ansible_collections/airgap/mirror"
    mkdir -p "$COPY"
    {
        git -C "$root" ls-files -z --cached
        if ((untracked)); then
            git -C "$root" ls-files -z --others --exclude-standard
        fi
    } | while IFS= read -r -d '' f; do
        # A staged deletion or a file already removed from the working tree: nothing to copy.
        if [[ -e "$root/$f" || -L "$root/$f" ]]; then
            printf '%s\0' "$f"
        fi
    done | tar -C "$root" --null --no-recursion -T - -cf - | tar -C "$COPY" -xf -
    git -C "$COPY" init -q
    git -C "$COPY" add -A
}
