#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: transfer_bundle
short_description: Move an OCI image layout across an air gap as checksummed tar parts
version_added: 1.0.0
description:
  - Packs an OCI image layout (as written by M(airgap.mirror.image_mirror) with C(dest=oci:PATH)) into a
    I(transfer bundle) for removable media, verifies a bundle after the copy, and unpacks it into a layout
    on the air-gapped side, from which M(airgap.mirror.image_mirror) (C(src=oci:PATH)) or C(skopeo copy oci:...)
    push the images into the mirror registry. This replaces copying an image directory by hand (seed
    procedure, steps 2.4 to 2.5).
  - >-
    A bundle is one tar stream cut at byte boundaries into parts of O(part_size) bytes
    (C(<name>.tar.0001), C(<name>.tar.0002), ...), so blobs larger than a part work and every part but the
    last fills exactly O(part_size); a C(<name>.sha256) file for C(sha256sum -c); and the manifest
    C(<name>.bundle.json) (format C(airgap.mirror/bundle/v1)) with every part's name, size and sha256, the
    images with their digests, the blob list, the byte totals and the mirror map. Parts are written under a
    temporary name and renamed; the manifest is written last, so a bundle with a manifest is complete.
  - Only blobs reachable from the bundled images go into the tar (never the layout's C(.airgap-state/) resume
    state). Every blob is hashed against its digest while it is packed and again while it is unpacked.
  - O(action=pack) refuses to start when the bundle directory's file system cannot hold the parts;
    O(action=unpack) when the layout's file system cannot hold the blobs it does not have yet (needed and
    free bytes are in the message).
  - O(action=verify) checks every part by size and sha256 and reports missing, truncated and corrupted parts,
    each by name. A part that is a symbolic link is never followed and is reported as one.
  - Files of the bundle's name that its manifest does not list (an extra C(<name>.tar.NNNN) left over from
    another bundle, a temporary file of an interrupted pack) are never read. O(action=verify) and
    O(action=unpack) both name them in a warning and in RV(extra), and neither fails because of them.
  - O(action=verify) and O(action=unpack) refuse a manifest that names an image with anything but an image
    reference or an OCI ref name (no white space, no C(..), no leading C(/)), naming the name and the manifest;
    O(action=pack) refuses to write such a name.
  - O(action=unpack) checks every tar member itself (no absolute paths, no C(..), no symbolic or hard links,
    no device files, no duplicates, only C(oci-layout), C(index.json) and C(blobs/<algorithm>/<hex>)), writes
    each blob through the layout's verified write, checks each part's sha256 as the stream crosses it,
    checks that every image of the bundle is complete in the layout, and only then merges the images into the
    layout's C(index.json) in one atomic replacement.
  - I(Incremental) bundles (O(previous)) leave out the configs and layers the other side already has
    (differential mirroring); manifests are always included. Unpacking one into a layout that lacks the
    earlier transfer fails before anything is written, naming the images whose blobs are missing.
  - I(Signed bundles) - with O(signing_key), O(action=pack) signs the manifest (which lists every part's sha256 and
    every blob's digest) into C(<name>.bundle.json.asc), a detached armored OpenPGP signature that
    C(gpg --verify <name>.bundle.json.asc <name>.bundle.json) accepts. With O(verify_keys), O(action=verify) and
    O(action=unpack) refuse an unsigned bundle, a manifest changed after signing and a bundle signed by another
    key, and O(action=unpack) checks every part's sha256 first, all before anything is written; the error names
    the bundle and the reason. Without O(verify_keys) nothing changes, and RV(signature) says whether a signature
    is present.
  - The manifest records what was checked at mirror time - per image, the mirror map entry's C(verified) (the
    signature kind and the keys) - and O(action=unpack) writes it back into the mirror map on the air-gapped side.
  - One module with an O(action) rather than three, because the three steps share one file format, the
    O(bundle)/O(name) pair and their results (parts, bytes, images), and one documentation page describes
    the whole hand-over.
extends_documentation_fragment:
  - airgap.mirror.attributes
attributes:
  check_mode:
    support: full
    details:
      - O(action=pack) reports the parts (names and sizes are known in advance), images and bytes it would
        write, after the free-space check; an existing identical bundle is verified by sha256.
      - O(action=unpack) reports the images it would add or update and the blobs and bytes it would write,
        after the part-size and free-space checks; part hashes are checked only by a real run or O(action=verify).
      - O(action=verify) never changes anything (its lock file, C(.<name>.lock), exists only while it runs).
      - With O(verify_keys), check mode of O(action=verify) and O(action=unpack) checks the signature, and
        O(action=unpack) every part's sha256, as a real run does; with O(signing_key), check mode of
        O(action=pack) signs in memory (so a wrong passphrase fails) and writes no signature.
  diff_mode:
    support: full
    details:
      - O(action=pack) shows the images and parts of the bundle before and after.
      - O(action=unpack) shows the digest each image of the bundle has in the layout's C(index.json) before and after.
  idempotent:
    support: full
    details:
      - Packing the same content into the same directory again verifies the existing parts and reports C(changed=false).
      - Unpacking a bundle whose blobs and images are all in the layout reads no part and reports C(changed=false).
options:
  action:
    description:
      - V(pack) writes a bundle of O(layout) into O(bundle).
      - V(verify) checks the bundle in O(bundle) (run it on the air-gapped side before O(action=unpack), or
        on the media after copying).
      - V(unpack) unpacks the bundle in O(bundle) into O(layout).
    type: str
    required: true
    choices: [pack, verify, unpack]
  bundle:
    description:
      - The bundle directory (for example the mount point of the removable media). O(action=pack) creates it.
      - Several bundles can share a directory when their O(name)s differ.
    type: path
    required: true
  name:
    description:
      - The bundle's base name; files are C(<name>.tar.NNNN), C(<name>.sha256) and C(<name>.bundle.json).
      - Letters, digits, C(.), C(_) and C(-).
    type: str
    default: images
  layout:
    description:
      - The OCI image layout. With O(action=pack) the source (it must exist); with O(action=unpack) the
        destination, created when missing (an existing directory must be a layout or empty).
      - Required with O(action=pack) and O(action=unpack).
    type: path
  part_size:
    description:
      - The size of each part (the last one is smaller). Bytes, or a size with a unit; V(K), V(M), V(G),
        V(T) and V(KiB), V(MiB), ... are powers of 1024 (as C(split -b)), V(KB), V(MB), V(GB) powers of 1000;
        V(4G) is 4 GiB (4294967296 bytes), V(4GB) is 4000000000 bytes.
      - The default V(4095M) fits FAT32 media, whose files are limited to 4 GiB minus one byte.
      - Only with O(action=pack).
    type: str
    default: 4095M
  images:
    description:
      - Ref names (C(org.opencontainers.image.ref.name) in the layout's C(index.json); for layouts written by
        M(airgap.mirror.image_mirror) the full source reference) of the images to pack. V([all]) or omitted
        packs every named image of the layout, or with O(mirror_map) the images of the mirror map.
      - Only with O(action=pack).
    type: list
    elements: str
  mirror_map:
    description:
      - With O(action=pack), a mirror map written by M(airgap.mirror.image_mirror) for this layout. Its
        entries for the bundled images are stored in the bundle's manifest, and without O(images) exactly
        its images (and their attached signatures) are packed.
      - With O(action=unpack), a mirror map to update with the bundle's images, their destinations pointing at
        O(layout) (C(oci:LAYOUT:REF)); entries of other sources are kept (see O(map_prune)). The O(layout) path
        must then contain no C(:), which C(oci:LAYOUT:REF) cannot carry.
    type: path
  map_prune:
    description:
      - With O(action=unpack) and O(mirror_map), drop the map's entries of images this bundle does not carry,
        so the map holds exactly the bundle's images (for sites that receive full bundles).
      - V(false) keeps them, so a site that receives delta bundles (O(previous)) keeps every image it received.
      - Either way the bundle's images replace the entries of the same sources; this is the rule
        M(airgap.mirror.image_mirror) applies too (its O(airgap.mirror.image_mirror#module:map_prune)).
      - Nothing is deleted from the layout.
    type: bool
    default: false
    version_added: 1.1.0
  previous:
    description:
      - Make an incremental bundle that leaves out the configs and layers the other side already has.
      - Either the mirror map of the earlier transfer (its images are looked up by digest and walked in
        O(layout), which must still hold them) or the manifest (C(<name>.bundle.json)) of the earlier bundle.
      - Or a mirror inventory written on the air-gapped side by M(airgap.mirror.mirror_inventory). The bundle then
        holds exactly what the mirror lacks in the repository each image goes to - blobs the mirror has are left out
        even if no earlier bundle recorded them, blobs it lost are put back in. With O(verify_keys) its signature
        (C(<file>.asc)) is checked first. The manifest records the inventory (C(sha256), C(read_at),
        C(state_digest)). A stale inventory (a bundle of another name was already packed from O(layout) with an
        inventory of the same registry read at the same time or later) is reported as a warning and in
        RV(previous) (C(stale), C(stale_because)); the bundle is still made, carrying again what the earlier one
        carried.
      - Only with O(action=pack).
    type: path
  space_check:
    description:
      - Check free space before writing. Turn off only where the file system reports free space wrongly;
        running out of space then fails in the middle, with the part or blob named.
    type: bool
    default: true
  progress_file:
    description:
      - A file the module appends its progress to while it runs, one JSON object per line, for other tools
        to follow; the same fields as O(airgap.mirror.image_mirror#module:progress_file), where
        C(images_done) and C(images_total) count parts (written by a pack, checked by a verify, read by an
        unpack) and C(bytes_done) and C(bytes_total) count the blobs packed or unpacked (for verify, the
        parts checked); C(phase) is the action. An C(image) line names a part.
    type: path
    version_added: 1.1.0
  progress:
    description:
      - 'Show the progress on the console while the module runs, every O(progress_interval) seconds and
        when each part is done, in lines such as C(transfer_bundle: 3/9 parts, 10.0 GiB/28.0 GiB, 180.0 MiB/s,
        ~1 min 42 s left); as O(airgap.mirror.image_mirror#module:progress) (the module runs in the
        background on its host, and the result is the same).'
      - Not in check mode, and not when the task has C(async) set itself.
    type: bool
    default: true
    version_added: 1.1.0
  progress_interval:
    description:
      - Seconds between two progress lines (on the console and in O(progress_file)).
    type: float
    default: 5
    version_added: 1.1.0
  signing_key:
    description:
      - With O(action=pack), the path of an OpenPGP secret key (armored or binary, as C(gpg --export-secret-keys)
        writes it) on the host that runs the module. The manifest is signed with it into C(<name>.bundle.json.asc),
        a detached armored signature; C(gpg --verify <name>.bundle.json.asc <name>.bundle.json) checks it.
      - A signature by the same key over the same manifest is kept (C(changed=false)); a pack of other content
        without O(signing_key) removes the old signature with the old manifest.
      - The key is used in a temporary GnuPG home (mode 0700, removed afterwards) and never appears in the result,
        a message or a log. Needs GnuPG (C(gpg)) on that host.
    type: path
    version_added: 1.1.0
  signing_key_passphrase:
    description:
      - The passphrase of O(signing_key), when it has one. Given to C(gpg) through a pipe, never on its command line.
    type: str
    version_added: 1.1.0
  verify_keys:
    description:
      - With O(action=verify) and O(action=unpack), paths of OpenPGP public keys (armored or binary) on the host
        that runs the module. The bundle must then be signed (C(<name>.bundle.json.asc)) by one of them, over the
        manifest as it is; an unsigned bundle, a changed manifest and a bundle signed by another key are refused
        before anything is written (no blob, no C(index.json) change, no mirror map change), and O(action=unpack)
        checks every part's sha256 against the signed manifest before it writes the first blob.
      - With O(action=pack), the same for the mirror inventory given as O(previous) (its detached signature
        C(<file>.asc)); then O(previous) is required.
      - Needs GnuPG (C(gpgv), C(gpg)) on that host.
    type: list
    elements: path
    version_added: 1.1.0
  mirror_storage_path:
    description:
      - With O(action=unpack), a path on the storage of the mirror registry the unpacked images are pushed to next,
        when that storage is on the host that runs the module (for C(docker-registry) its rootdirectory). Before
        anything is written, the bytes of every blob the bundle carries - what the push after it sends at most - plus
        the margin of O(airgap.mirror.image_mirror#module:space_check) are compared with the free space there; the
        unpack fails when they do not fit, with the bytes needed and free. The push itself checks again, more
        precisely (O(airgap.mirror.image_mirror#module:mirror_storage_path)).
      - For a mirror on another host, run the task on that host (C(delegate_to)).
      - Skipped with O(space_check=false).
    type: path
    version_added: 1.1.0
notes:
  - By hand, a full bundle unpacks into a new directory with C(cat NAME.tar.* | tar -x -C DIR) after
    C(sha256sum -c NAME.sha256); the module adds the member checks, the digest checks, incremental bundles and
    merging into an existing layout.
  - Runs where the files are; use C(delegate_to) for the host the media is attached to. Needs no Python
    library beyond the standard library.
  - A pack holds the bundle's lock (C(flock) on C(<bundle>/.<name>.lock)) alone, verify and unpack share it; a
    run that would collide with another on the same bundle fails at once, naming the lock and the directory. A
    killed run blocks nothing. Several unpacks may write into one layout at the same time.
seealso:
  - module: airgap.mirror.image_mirror
  - name: OCI image layout
    description: The on-disk format a bundle carries.
    link: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
author:
  - airgap.mirror contributors (!UNKNOWN)
"""

EXAMPLES = r"""
# Connected side: mirror to a layout, then pack it onto the media
- name: Mirror the release images into a layout
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    dest: oci:/srv/transfer/layout
    mirror_map: /srv/transfer/mirror-map.yml

- name: Pack the layout into 4 GiB parts on the USB disk
  airgap.mirror.transfer_bundle:
    action: pack
    layout: /srv/transfer/layout
    mirror_map: /srv/transfer/mirror-map.yml
    bundle: /media/usb
    name: release-4.18.1
    part_size: 4095M

- name: Next release - only what the air-gapped side does not have yet
  airgap.mirror.transfer_bundle:
    action: pack
    layout: /srv/transfer/layout
    mirror_map: /srv/transfer/mirror-map-4.18.2.yml
    previous: /media/usb/release-4.18.1.bundle.json
    bundle: /media/usb
    name: release-4.18.2

# Air-gapped side
- name: Check the parts after the copy
  airgap.mirror.transfer_bundle:
    action: verify
    bundle: /media/usb
    name: release-4.18.1

- name: Unpack into the local layout
  airgap.mirror.transfer_bundle:
    action: unpack
    bundle: /media/usb
    name: release-4.18.1
    layout: /srv/mirror/layout
    mirror_map: /srv/mirror/layout-map.yml

# Signed bundles: sign on the connected side, accept only that key on the air-gapped side
- name: Pack and sign the manifest
  airgap.mirror.transfer_bundle:
    action: pack
    layout: /srv/transfer/layout
    mirror_map: /srv/transfer/mirror-map.yml
    bundle: /media/usb
    name: release-4.18.1
    signing_key: /etc/airgap/bundle-signing.key
    signing_key_passphrase: "{{ vault_bundle_signing_passphrase }}"

- name: Unpack only a bundle signed by the transfer key
  airgap.mirror.transfer_bundle:
    action: unpack
    bundle: /media/usb
    name: release-4.18.1
    layout: /srv/mirror/layout
    verify_keys: [/etc/airgap/bundle-signing.pub]

- name: Push everything into the mirror registry
  airgap.mirror.image_mirror:
    src: oci:/srv/mirror/layout
    images: [all]
    dest: registry.internal:5000
    mirror_map: /srv/mirror/mirror-map.yml
"""

RETURN = r"""
bundle:
  description: The bundle directory.
  returned: always
  type: str
  sample: /media/usb
manifest:
  description: Path of the bundle's manifest.
  returned: always
  type: str
  sample: /media/usb/release-4.18.1.bundle.json
name:
  description: The bundle's base name.
  returned: always
  type: str
status:
  description:
    - V(written), V(present) (an identical, intact bundle was already there) or V(would_write) for O(action=pack).
    - V(unpacked), V(present) (nothing to do) or V(would_unpack) for O(action=unpack).
  returned: when O(action) is pack or unpack
  type: str
parts:
  description: The parts, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: File name of the part.
      type: str
    size:
      description: Bytes.
      type: int
    sha256:
      description: sha256 of the part (null in check mode for parts still to write).
      type: str
    status:
      description:
        - O(action=pack) - V(written), V(present) or V(would_write).
        - O(action=verify) - V(ok), V(missing), V(truncated), V(too_long), V(corrupted), V(symlink),
          V(not_a_file), V(unreadable) or V(extra) (a file the manifest does not list; not read).
      type: str
images:
  description: The images of the bundle.
  returned: always
  type: list
  elements: dict
  contains:
    ref_name:
      description: The image's ref name in the layout.
      type: str
    digest:
      description: Digest of its manifest or index.
      type: str
    media_type:
      description: Media type of that manifest or index.
      type: str
    total_size:
      description: Bytes of all its manifests and blobs.
      type: int
    status:
      description: With O(action=unpack), V(added), V(updated), V(present), V(would_be_added) or V(would_be_updated).
      type: str
    previous_digest:
      description: With O(action=unpack), the digest the layout recorded for the ref name before (null when absent).
      type: str
    verified:
      description:
        - What was verified when the image was mirrored (the mirror map entry's C(verified) - C(kind) V(gpg) or
          V(sigstore) and the C(keys)), as the bundle's manifest records it; absent when nothing was.
      type: dict
bytes:
  description: Bytes of the tar stream, that is of all parts.
  returned: always
  type: int
blobs:
  description: Blobs in the bundle (manifests, configs and layers).
  returned: always
  type: int
blob_bytes:
  description: Bytes of those blobs.
  returned: always
  type: int
assumed_present:
  description: Blobs of the images left out of an incremental bundle, expected in the destination layout (in the
    mirror registry for a bundle packed from a mirror inventory, see RV(assumed_in_mirror)).
  returned: always
  type: int
mirror_space:
  description: With O(mirror_storage_path), C(path), C(needed) and C(free) bytes of the mirror's storage.
  returned: when O(action=unpack) and O(mirror_storage_path) are given and blobs are to be written
  type: dict
assumed_in_mirror:
  description:
    - For a bundle packed from a mirror inventory, what it left out because the mirror registry has it - C(registry),
      C(inventory), C(inventory_read_at), C(blobs), C(bytes). The layout then holds only what the mirror lacked;
      push it with M(airgap.mirror.image_mirror) O(airgap.mirror.image_mirror#module:verify=true), which checks each
      blob at the mirror and sends the ones it lacks. C(null) for other bundles.
  returned: when O(action=unpack)
  type: dict
assumed_bytes:
  description: Bytes of those blobs.
  returned: when O(action=pack)
  type: int
blobs_written:
  description: Blobs written into the layout.
  returned: when O(action=unpack)
  type: int
bytes_written:
  description: Bytes of those blobs.
  returned: when O(action=unpack)
  type: int
blobs_to_write:
  description: Blobs of the bundle not yet in the layout before this run.
  returned: when O(action=unpack)
  type: int
bytes_to_write:
  description: Bytes of those blobs (what the free-space check needs).
  returned: when O(action=unpack)
  type: int
space:
  description: The free-space check - C(needed), C(free) bytes and the C(path) checked.
  returned: when something is (or would be) written
  type: dict
valid:
  description:
    - With O(action=verify), whether every part the manifest lists is present, a regular file (not a symbolic
      link), complete and intact. Extra files (RV(extra)) do not count.
  returned: when O(action=verify)
  type: bool
problems:
  description: With O(action=verify), one entry per problem - C(part), C(problem) and a C(message) naming the part.
  returned: when O(action=verify)
  type: list
  elements: dict
extra:
  description:
    - Files of the bundle's name that its manifest does not list (C(problem=extra)), with C(part), C(problem)
      and a C(message) naming the file; each is also a warning. They are not read and do not fail the task.
  returned: when O(action) is verify or unpack
  type: list
  elements: dict
signature:
  description:
    - The manifest's detached OpenPGP signature C(<name>.bundle.json.asc).
    - C(file) (its path) and C(present) (whether it is there) always.
    - With O(signing_key) (O(action=pack)) - C(fingerprint) (the signing key's primary fingerprint) and C(status)
      (V(written), V(present) or V(would_write)).
    - With O(action=verify) and O(action=unpack) - C(verified) (true only when O(verify_keys) were given and the
      signature passed) and C(fingerprint) (the signer's primary fingerprint, null when not verified).
  returned: always
  type: dict
  sample: {"file": "/media/usb/release-4.18.1.bundle.json.asc", "present": true, "verified": true,
           "fingerprint": "F12BB816D116713F45DEC0FCA5CA709C5D8864E2"}
previous:
  description:
    - The previous transfer record an incremental bundle was made against (C(kind), C(path), C(sha256), C(images)).
    - For a mirror inventory (C(kind=inventory)) also C(registry), C(read_at), C(state_digest), C(blobs_checked),
      C(signature) (C(present), C(verified), C(fingerprint)), C(stale) and, when stale, C(stale_because) (the
      C(name) and C(read_at) of the bundle that makes it so).
  returned: when O(action=pack)
  type: dict
seconds:
  description: Wall time of the work.
  returned: always
  type: float
bytes_per_second:
  description: Throughput over the bundle's bytes (0 when nothing was moved).
  returned: always
  type: int
peak_rss_bytes:
  description: Peak resident memory of the module process (streaming keeps it flat).
  returned: always
  type: int
warnings:
  description:
    - Given to Ansible's warning mechanism (C(module.warn)), which shows them and returns them here - what a pack
      left out (for example unnamed index entries), and with O(action=verify) and O(action=unpack) each file of
      RV(extra).
  returned: when there is something to warn about
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.airgap.mirror.plugins.module_utils._backends import transfer_bundle as backend
from ansible_collections.airgap.mirror.plugins.module_utils._common.progress import progress_to


def main() -> None:
    module = AnsibleModule(**backend.module_spec())
    try:
        request = backend.build_request(module.params, module.check_mode)
    except Exception as exc:  # the one place a library error becomes a task failure
        module.fail_json(**backend.failure(exc))
    progress, close_progress = progress_to(module.params["progress_file"], module.params["progress_interval"])
    progress.start()
    try:
        try:
            report = backend.run(request, module.warn, progress)
        except Exception as exc:  # the one place a library error becomes a task failure
            module.fail_json(**backend.failure(exc))
        failed, result = backend.result(request, report, module._diff)
        if failed:
            module.fail_json(**result)
        module.exit_json(**result)
    finally:  # also after fail_json and exit_json (SystemExit): the file ends with "end"
        progress.stop()
        close_progress()


if __name__ == "__main__":
    main()
