#!/usr/bin/python
# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: image_mirror
short_description: Copy container images between registries and OCI layouts, plan first
version_added: 1.0.0
description:
  - Copies a set of container images into a mirror registry, into an OCI image layout on disk, or
    from such a layout (or skopeo C(dir:) exports) into a registry - the three legs of an air-gapped
    mirror (seed procedures C(skopeo copy --all --preserve-digests) loops).
  - Plans first, then copies. Every reference is resolved to a digest (the plan - manifests, the blob
    graph, unique bytes); then only what is missing moves. Each unique blob is copied once per
    destination and mounted into the other repositories of the same registry; into a layout it is
    stored once in the shared C(blobs/).
  - All platforms of an index are copied and digests are always preserved (manifests are copied
    byte for byte), unless O(platforms) selects some platforms; then a filtered index is written,
    with a digest of its own that the mirror map records next to the source's. Blobs are pushed before their manifest and children before their index, so no tag
    ever points at something missing. Every blob written to disk is verified against its digest; a
    registry verifies what it receives.
  - Every image is attempted; the task fails at the end if any image failed, listing each with its
    reason. Results are reported per image (copied or present, bytes, seconds) with totals.
  - Writes the I(mirror map) (O(mirror_map)), the record every consumer role of this collection
    reads, and reads it back on the next run to skip, with one request per image, what is already
    mirrored.
  - Runs where the network path and the disk are; use C(delegate_to) to pick the mirror host. Needs
    the C(httpx) Python library there.
  - Can split one image set across several workers (O(shard_index), O(shard_count)) - hosts of an
    inventory group, or slices of an AWX job - followed by one final run with O(verify=true) that
    completes and checks the whole set and writes the one mirror map. See the playbook
    C(airgap.mirror.mirror_sharded) and C(docs/awx.md).
extends_documentation_fragment:
  - airgap.mirror.registry
  - airgap.mirror.registry.source
  - airgap.mirror.attributes
  - airgap.mirror.attributes.actiongroup_registry
attributes:
  check_mode:
    support: full
    details: Resolves every image and reports what would be copied and how many bytes, with HEAD and GET requests only.
  diff_mode:
    support: full
    details: The destination digest of every image before and after.
  idempotent:
    support: partial
    details:
      - A second run sends no blob and no manifest and reports C(changed=false).
      - Not with O(tag_style=timestamp), which creates new tags on every run, as the seed's script does.
options:
  images:
    description:
      - The images to copy.
      - A string is a source image reference (C(quay.io/org/app:1.0), C(repo@sha256:...), or both).
        Without a tag or digest, C(latest) is used.
      - With O(src), a string is the name the image has in that layout (its
        C(org.opencontainers.image.ref.name), which is the full source reference for layouts this
        module wrote), or the relative path of a C(dir:) export; the single string V(all) takes every
        image of O(src).
      - With a C(dir:) O(src), a string may also be the full source reference of an export
        (C(registry.redhat.io/lvms4/topolvm-rhel9@sha256:...), for example every image of a MicroShift
        release file). The export is found by its repository path, with or without the registry as first
        directory (the seed's download loop drops it), and its tag or digest; its manifest must have that
        digest. The mirror map then records that reference - the way to upload a tree that holds images of
        several registries.
      - A dict with keys C(src) and C(dest) gives an explicit destination reference (a registry
        reference, or for a layout destination the ref name to record).
      - A dict with keys C(src) and C(tags) selects tags of the repository C(src) (a repository without
        tag or digest, for example C(docker.elastic.co/elasticsearch/elasticsearch)). The repository's
        tags are listed when the run is planned (the registry's paginated C(/v2/NAME/tags/list), or the
        ref names C(REPOSITORY:TAG) of an O(src) layout), and each selected tag becomes an ordinary
        C(REPOSITORY:TAG) image - in the results, in check mode and in the mirror map (one entry per tag).
        C(tags) is a dict with any of these keys, applied in this order (an empty dict selects every tag).
      - C(include) - a regular expression (Python syntax) or a list of them; a tag is kept when one matches
        the whole tag (V(8\\.16\\..*) keeps C(8.16.1) but not C(v8.16.1)).
      - C(exclude) - the same; a tag that one matches whole is dropped.
      - C(semver) - a version range as npm writes it - V(>=8.16.0 <8.17.0) (a space or a comma is AND,
        V(||) is OR; also V(8.16.x), V(~8.16.1), V(^8.16.1), V(8.15 - 8.16), V(*)). Only tags that are
        semantic versions (C(MAJOR.MINOR.PATCH), a leading C(v) accepted) are kept. A pre-release
        (C(8.16.0-rc1), and C(8.16.1-amd64), which semantic versioning reads as one) is kept only when
        the range names a pre-release of the same C(MAJOR.MINOR.PATCH) (V(>=8.16.0-rc1 <8.17.0)), as
        npm and Masterminds/semver decide; V(*) is every release.
      - C(newest) - N, the N highest semantic versions among the tags left (pre-releases included unless
        C(semver) left them out; tags that are not versions are dropped).
      - A selection that selects no tag fails its entry, naming the selector and the number of tags the
        repository has. A bad selector (a regular expression that does not compile, a bad range, C(newest)
        that is not a positive number, an unknown key, a C(src) with a tag or digest) fails the task before
        anything is copied. A C(dest) given with C(tags) is a repository; each tag keeps its name there.
        A re-run that selects the same tags changes nothing.
      - A dict may also have the key C(platforms), which replaces O(platforms) for that image (C([]) copies
        every platform of it).
    type: list
    elements: raw
    required: true
  dest:
    description:
      - Where to copy to. A registry C(HOST[:PORT][/NAMESPACE]), or C(oci:PATH) for an OCI image layout
        (created when missing; many images share it).
      - For a registry, each image goes to the repository O(mapping) gives it.
    type: str
    required: true
  src:
    description:
      - Read the images from C(oci:PATH) (an OCI image layout, for example one written by this module
        on the connected side) or C(dir:PATH) (a tree of skopeo C(dir:) exports, as the seed's
        procedure writes) instead of from their registries.
    type: str
  src_registry:
    description:
      - For C(dir:) trees only, and only for a tree whose images all come from this one registry. The seed's
        procedure drops the registry host from the directory names (C(cut -d/ -f2-)); this gives it back to
        every export named by its relative path (V(all) included), so the mirror map records it as the source.
      - It labels every such export, whatever registry it came from. A tree with images of several registries
        (a MicroShift release - C(quay.io), C(registry.redhat.io), C(registry.access.redhat.com)) needs O(images)
        as full source references instead; the module warns when the exports it labels lie under more than
        one top-level directory.
      - An export whose first directory is a registry host (C(quay.io/...)) is refused with it. Such a tree
        needs no O(src_registry); an export path that names no registry needs it, or a full source reference.
    type: str
  mapping:
    description:
      - How a source repository maps to a mirror repository when O(dest) is a registry.
      - V(keep) keeps the source path under O(dest) (C(quay.io/org/app) to C(DEST/org/app)), as the seed does.
      - V(scoped) keeps the source registry as the first path component (C(DEST/quay.io/org/app)).
      - V(flatten) keeps only the last path component (C(DEST/app)), for registries that limit nesting
        and for ECK's C(--container-repository) layout.
    type: str
    choices: [keep, scoped, flatten]
    default: keep
  overrides:
    description:
      - Explicit mirror repositories, per source repository (C(quay.io/org/app) to C(custom/app)). An
        override is a path under the mirror registry; O(dest)'s namespace and O(mapping) do not apply.
    type: dict
    default: {}
  tag_style:
    description:
      - Tags for images referenced by digest only (a source tag is always kept).
      - V(deterministic) tags them C(mirror-sha256-<hex>), so a re-run never creates new tags and registry
        garbage collection never removes them.
      - V(timestamp) is the seed's C(mirror-<yymmddHHMMSS>-<n>) scheme. It is not idempotent - every run
        creates new tags.
      - V(none) pushes by digest only; some registries garbage-collect untagged manifests.
    type: str
    choices: [deterministic, timestamp, none]
    default: deterministic
  mirror_map:
    description:
      - Path of the mirror map to write (YAML, replaced atomically, unchanged when nothing changed).
      - When it exists it is also read first, as a lockfile, so images already mirrored cost one request.
      - A run in which no image was copied or found present (every image failed, or O(space_check)
        refused the copy) leaves the file as it was, and does not create it.
    type: path
  use_mirror_map:
    description:
      - Read an existing O(mirror_map) to skip work already done. Turn off to re-check every image fully.
    type: bool
    default: true
  immutable_tags:
    description:
      - Regular expressions (each must match the whole tag) of source tags you declare never move, for example
        V(^v?[0-9]+[.][0-9]+[.][0-9]+$) for release tags.
      - An image requested by such a tag, which O(mirror_map) records and the destination still holds, is taken from
        the map without any request to its source registry - neither its digest nor new signatures or other
        attachments are looked up there. A re-run of a large list over a slow link then costs one request per
        image, to the mirror.
      - If such a tag does move upstream, the mirror keeps the image it has; a run with O(use_mirror_map=false) or
        O(verify=true) looks at the source again. Tags not matching, and images the map does not record, are
        resolved as usual.
      - An image filtered by O(platforms) (or its entry's C(platforms)) still costs one GET of its source index, which
        the filter is applied to again.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  map_prune:
    description:
      - What becomes of the entries of O(mirror_map) for images this task does not list.
      - V(true) drops them, so the map (and a bundle packed from it with M(airgap.mirror.transfer_bundle))
        holds exactly the images of this task. V(false) keeps them, so the map keeps describing
        everything the mirror holds across tasks that each mirror a part of it.
      - Either way, an image of this task replaces the entry of the same source, and an image that
        fails keeps its entry from before the run (a failed copy moves no tag, so it still describes the
        mirror). The same rule applies when M(airgap.mirror.transfer_bundle) unpacks into a map.
      - Nothing is deleted from the mirror itself.
    type: bool
    default: true
    version_added: 1.1.0
  attachments:
    description:
      - Copy artifacts attached to each image with it - cosign signatures, attestations and SBOMs
        (C(sha256-<hex>.sig), C(.att), C(.sbom) tags) and referrers indexes kept under the OCI referrers
        tag schema (C(sha256-<hex>)).
    type: bool
    default: true
  upload_chunk_size:
    description:
      - Blobs larger than this are uploaded in chunks of this size (C(PATCH) with C(Content-Range)), so a
        broken upload resumes from the last chunk the registry acknowledged; smaller blobs go in one request.
      - Lower it for registries behind a proxy that limits request bodies (nginx C(client_max_body_size),
        CDN limits). Bytes, or a number with C(K), C(M), C(G) (powers of 1024; also C(KiB), C(MiB)...) or
        C(KB), C(MB), C(GB) (powers of 1000); at least 1K.
    type: str
    default: 64M
  concurrency:
    description:
      - Transfers of blobs over 1 MiB in flight at once, across all images and blobs.
      - Smaller blobs, cross-repository mounts and manifest pushes - whose time is the round trip more
        than their bytes - run four times as many at once, at most 32 and never fewer than this.
        Looking images up (manifests, tag lists, existence checks) runs eight times as many, at most 64.
        Each registry's connection pool (twice this, at least 16, and at least the look-ups' count)
        bounds them per registry.
    type: int
    default: 8
  registry_limits:
    description:
      - Limits per registry, keyed by registry host (C(host[:port]); V(docker.io) for Docker Hub), and
        the key V(default) for every registry without a key of its own. Each value is a dictionary
        with C(connections) (requests in flight to that registry at once, a whole number) and/or
        C(requests_per_second) (requests started per second, fractions allowed, such as V(0.5)); a
        missing one is no limit. Without this option, nothing is limited but O(concurrency).
      - Every request to the registry counts, its token service and the redirects it answers with
        included; a streamed blob download holds its connection until its last byte. Up to one
        second's worth of requests (at least one) may start at once after a quiet spell, then they are
        paced at the rate.
      - The source and the destination are limited separately, so a slow vendor registry does not hold
        up the pushes to the mirror. The workers are shared (O(concurrency)); a worker waiting for a
        source's limit does not copy anything else meanwhile, so a tight source limit leaves fewer
        workers for the destination. A blob is read from its source before its upload starts, so a
        worker waiting for the source holds no connection to the destination.
      - Independent of this option, a registry's C(RateLimit-Remaining)/C(RateLimit-Reset) headers (also
        C(X-RateLimit-*), a reset above 10^9 being epoch seconds) make requests to it wait until the
        reset (at most 300 seconds) once it says no more requests remain than its C(connections)
        (default 1), before it would answer 429; the wait is shown in the progress and as a warning.
        Docker Hub sends C(ratelimit-remaining) without a reset; a warning then says how much is left.
        429 answers and C(Retry-After) are honoured as always (O(retries)).
      - RV(limit_wait_seconds) tells how long the requests to each registry waited.
    type: dict
    version_added: 1.1.0
  verify:
    description:
      - Trust nothing already in the destination. The mirror map is not used as lockfile, every image
        is resolved fully, and each of its blobs and manifests is checked in its destination repository
        (HEAD requests). Whatever is missing is copied again (mounted when the registry has the blob in
        another repository); in check mode it is only reported (C(missing) in RV(images)).
      - The final step after a sharded copy (O(shard_count)), and a periodic audit of a mirror.
    type: bool
    default: false
  shard_count:
    description:
      - Split the copy across this many workers, each running this module with the same O(images),
        O(dest) and options and its own O(shard_index).
      - Every worker resolves the whole set the same way and computes the same split from the plan alone.
        Each unique blob is assigned to one worker, balanced by bytes (largest first to the worker with
        the fewest bytes so far), and uploaded once, to the repository of the first image that has it;
        every other repository gets it by cross-repository mount. Each image is assigned to one worker
        (round-robin by position), which mounts its blobs and pushes its manifests once all its blobs
        are in place.
      - A sharded run needs a registry O(dest), does not read or write O(mirror_map) and ignores
        O(use_mirror_map). Pin O(images) by digest (or resolve them once, for example from a release
        file) so all workers see the same plan; a tag moved between the workers' resolutions only makes
        the final run copy more.
      - Follow the workers with one run without shard options and with O(verify=true). It completes
        what the workers left (images C(deferred), or failed) - mounts and manifests only when every
        worker finished - checks the whole set and writes the mirror map.
      - V(1) (the default) is an ordinary, unsharded run.
    type: int
    default: 1
  shard_index:
    description:
      - This worker's number, from V(0) to O(shard_count) minus one. Required when O(shard_count) is more
        than one.
    type: int
  shard_wait:
    description:
      - Seconds a worker waits, after uploading its own blobs, for the blobs of its images that other
        workers upload. An image whose blobs are not all there by then is left for the final run
        (status C(deferred), not a failure), so workers that do not run at the same time are safe.
    type: float
    default: 60
  space_check:
    description:
      - When O(dest) is an OCI layout (C(oci:PATH)), check before copying (and in check mode) that the
        layout's file system has room for the blobs and manifests the layout does not have yet, each
        rounded up to the file system's block size, plus a margin of 1% of those bytes (at least 1 MiB)
        for C(index.json), resume state and the file system's own bookkeeping. When it has not, every
        image to be copied fails before anything is fetched; the message gives the bytes needed and free.
      - Turn off only where the file system reports free space wrongly (some network and FUSE file
        systems); running out of space then fails in the middle, naming the image and the blob, and a
        re-run continues the partial blob. The same as O(airgap.mirror.transfer_bundle#module:space_check).
      - When O(dest) is a registry, the check runs only with O(mirror_storage_path).
    type: bool
    default: true
    version_added: 1.1.0
  mirror_storage_path:
    description:
      - When O(dest) is a registry whose storage is on the host that runs the module, a path on that storage (for
        C(docker-registry), its C(storage.filesystem.rootdirectory), by default C(/var/lib/docker-registry)).
      - Before anything is copied (and in check mode), the bytes the push sends are compared with the free space
        of that file system, plus the margin of O(space_check). First the upper bound, every unique blob and
        manifest of the images to copy; only when that does not fit are the blobs asked for at the mirror (one
        C(HEAD) each) and only the ones it lacks counted. When they do not fit, every image to be copied fails
        before anything is sent, and the message gives the bytes needed and free.
      - For a mirror on another host, run the task on that host (C(delegate_to)); nothing is done over ssh here.
      - Skipped with O(space_check=false).
    type: path
    version_added: 1.1.0
  state_dir:
    description:
      - Directory for what lets an interrupted run (killed, power loss) resume when it is run again -
        the session of each blob being uploaded to a registry in chunks (blobs over O(upload_chunk_size)) and the
        offset the registry acknowledged, recorded once it acknowledged a chunk, so the re-run sends only the
        rest. Where the registry no longer knows the session, holds another offset than recorded, or refuses
        the completed upload as not matching its digest, that session is dropped and the blob sent again from
        byte 0 in a new one (once). Files are C(0600); they are removed once a run completes, and a record is
        removed whenever its upload fails in a way a re-run could not cure.
      - Defaults to C(.airgap-state) next to O(mirror_map) when that is set.
      - Downloads into an OCI layout always keep their partial blobs in C(<layout>/.airgap-state/), so a
        re-run continues them with HTTP range requests from the byte where they stopped.
    type: path
  progress_file:
    description:
      - A file the module appends its progress to while it runs, one JSON object per line (each line
        written whole, at once), for other tools to follow (C(tail -f)); created if missing, appended to if not.
      - Each line has C(event) (V(start), V(phase), V(plan), V(tick), V(image), V(end)), C(phase)
        (V(resolve), V(copy), V(write_map)), C(time) (epoch seconds), C(elapsed) (seconds), C(images_done),
        C(images_total), C(bytes_done), C(bytes_total) (the blob bytes this run copies), C(rate) (bytes per
        second over the last 10 seconds, or C(null)) and C(eta) (seconds left, or C(null)); an C(image) line
        also has C(image) (the source reference) and C(status) (V(copied) or V(failed)). C(tick) lines come
        every O(progress_interval) seconds.
      - The action plugin sets a file of its own in the remote temporary directory when this is not set, to
        show the progress (see O(progress)).
    type: path
    version_added: 1.1.0
  progress:
    description:
      - 'Show the progress on the console of C(ansible-playbook) (and in AWX job output) while the module
        runs, every O(progress_interval) seconds and when each image ends, in lines such as
        C(image_mirror: 12/40 images, 1.2 GiB/3.4 GiB, 85.0 MiB/s, ~26 s left).'
      - The action plugin then starts the module as any module is started, but in the background on its
        host (with C(nohup), its output kept in the async directory, C(~/.ansible_async)), and reads
        its O(progress_file) there, on the host the task runs on or is delegated to. The result is the
        same as without progress.
      - Not in check mode (which copies nothing, and only resolves the images), and not when the task
        has C(async) set itself.
      - V(false) runs the module as any other, without a line until it ends.
    type: bool
    default: true
    version_added: 1.1.0
  progress_interval:
    description:
      - Seconds between two progress lines (on the console and in O(progress_file)).
    type: float
    default: 5
    version_added: 1.1.0
  platforms:
    description:
      - Copy only these platforms of each image, each C(os/arch[/variant]) (V(linux/amd64), V(linux/arm64/v8)).
        Empty (the default) copies every platform.
      - A platform matches when its OS and architecture are equal and, when the entry names a variant, its
        variant too (V(linux/arm64) matches C(arm64/v8); an arm64 image without a variant is C(v8)).
      - "An index keeps only the manifests of these platforms and their blobs; a new index listing exactly
        those manifests (descriptors and annotations as the source wrote them, in its order) is written, with
        a digest of its own: RV(images[].digest) and the mirror map's C(digest) are the mirror's, and
        C(source_digest) is the source's. An index that keeps every one of its manifests is copied unchanged."
      - A single-platform image is copied as it is when the platform of its config matches, and fails
        otherwise. An artifact that names no platform (no image config) is copied as it is.
      - An image none of whose platforms matches fails, naming the platforms it has.
      - BuildKit attestation manifests (platform C(unknown/unknown)) are kept only with the manifest they
        describe. Signatures and attestations tagged for the source index digest (C(sha256-<hex>.sig)) are not
        copied with a filtered index (they do not sign its digest); those of the kept manifests are.
      - A digest-only source keeps its destination tag C(mirror-sha256-<source digest>) (see O(tag_style)),
        which then points at the filtered index.
      - With O(mirror_map) as lockfile, a re-run fetches the source index (one GET instead of a HEAD) and
        filters it again; the same filter gives the same digest and nothing is copied, a changed one copies
        the image again.
      - See C(docs/platforms.md), also for consumers that can only pull the source's digest.
    type: list
    elements: str
    default: []
    version_added: 1.1.0
  source_mirrors:
    description:
      - Pull-through sources - where to fetch the images of a source registry or repository prefix from,
        for a connected side that reaches public registries only through a proxy-cache repository
        (Artifactory or Nexus remote repositories, a Harbor or Quay proxy cache, Satellite).
      - A dict of source prefix (C(host[:port][/path])) to a location C(host[:port][/namespace]), or a list of
        locations tried in order (the next one when a location does not have the image, refuses the
        credentials or cannot be reached). The repository path under the prefix is appended to the
        location; with C(quay.io) mapped to C(proxy.corp/quay-remote), C(quay.io/org/app:1.0) is fetched
        from C(proxy.corp/quay-remote/org/app:1.0).
      - The longest matching prefix wins, on repository-path boundaries (C(quay.io/org) matches
        C(quay.io/org/app), not C(quay.io/organic/app)). Prefixes are matched against normalized names;
        Docker Hub aliases are C(docker.io), and an official image such as C(nginx) is C(docker.io/library/nginx).
      - The image keeps its real name - the destination is named from it (O(mapping)), the mirror map
        records it as C(source) and the location used as C(source_via) - and digests are checked against
        it; a digest-pinned image whose location serves other bytes fails, naming the image and the location.
      - The credentials, CA and O(insecure_registries) of a location are those of its registry (the host
        contacted); O(src_username) and O(src_password) also go to the locations' registries.
      - Images that no prefix matches are fetched from the registry their reference names. Has no effect
        when O(src) is set (the images are read from a layout or a C(dir:) tree then).
      - See C(docs/pull-through.md) in the collection.
    type: dict
    version_added: 1.1.0
  source_mirrors_file:
    description:
      - A containers-registries.conf(5) version 2 file (such as the connected side's
        C(/etc/containers/registries.conf) or a drop-in) to take the pull-through sources from, instead
        of O(source_mirrors).
      - Each C([[registry]]) is a source prefix (its C(prefix), else its C(location)); its C([[registry.mirror]])
        locations are tried in order, honouring C(mirror-by-digest-only) and C(pull-from-mirror). When no
        mirror applies to an image, it is fetched from the C(location) (which rewrites the prefix when it
        differs from it). C(blocked) images fail; C(insecure) registries are spoken to as
        O(insecure_registries) are. A version 1 file, an unknown key and a wildcard prefix (C(*.example.com))
        that an image matches are errors; other top-level settings (short names) do not concern the
        fully qualified images of this module.
    type: path
    version_added: 1.1.0
  source_mirrors_fallback:
    description:
      - When every pull-through location of an image failed, fetch it from the source itself (for
        O(source_mirrors_file), its C(location)), as containers/image does.
      - Off by default, so that the bytes that cross the air gap come from where O(source_mirrors) says;
        C(source_via) in the mirror map then tells which images came from a proxy and which did not.
    type: bool
    default: false
    version_added: 1.1.0
  signature_policy:
    description:
      - A C(containers-policy.json(5)) file, the format skopeo, podman and CRI-O read. Every image must
        satisfy the requirements of the most specific C(docker) scope matching its B(source) reference
        before anything of it is copied; an image that does not is written nowhere (no blob, no tag, no
        signature), and the task fails at the end naming each such image and the reason (unsigned,
        untrusted key, payload for another digest, identity mismatch, malformed signature, rejected by
        policy).
      - Supported requirements are C(insecureAcceptAnything), C(reject), C(signedBy) (C(keyType=GPGKeys);
        C(keyPath), C(keyPaths), C(keyData)) and C(sigstoreSigned) (public keys C(keyPath), C(keyPaths),
        C(keyData), C(keyDatas)), each with any C(signedIdentity). Others (C(fulcio), C(pki), Rekor keys) are
        refused when the file is read, naming them; never silently accepted.
      - GPG signatures are read from the lookaside store O(registries_d) names for the source; sigstore
        signatures from the C(sha256-<hex>.sig) tag next to the image. The accepted GPG signatures travel
        with the image, as an artifact tagged C(sha256-<hex>.gpgsig) next to it (in a layout, a bundle and
        the mirror), so that the air-gapped side verifies them again with the same policy
        (O(src=oci:PATH)) and writes them to O(lookaside_dir).
      - The mirror map records per image C(verified) (C(kind) and the C(keys) that accepted it).
      - An image taken from the mirror map by O(immutable_tags) is verified too, which asks its source
        for its signatures. Not available with O(shard_count) above 1.
      - See C(docs/signatures.md) in the collection.
    type: path
    version_added: 1.1.0
  registries_d:
    description:
      - A C(containers-registries.d(5)) directory saying where the GPG signatures of a source live
        (C(lookaside) URLs C(file://), C(http://), C(https://)) and whether sigstore attachments are used.
      - Default is C(/etc/containers/registries.d) when it exists on the host running the module.
      - Only with O(signature_policy).
    type: path
    version_added: 1.1.0
  lookaside_dir:
    description:
      - Write the GPG signatures of the images in place after the run to this directory, laid out as a
        C(lookaside) store (C(<repository path>@sha256=<hex>/signature-<n>)), for hosts to read (serve it
        over HTTP, or point C(lookaside) at it with C(file://)). Files are replaced atomically; unchanged
        ones are left alone. Not written in check mode.
      - Only with O(signature_policy).
    type: path
    version_added: 1.1.0
notes:
  - The mirror map lists the images copied or found present in this run. An image that fails keeps
    the entry it had in the map before the run (same source and destination), because a failed copy
    never moves a destination tag, so a failed re-run does not drop images that are still in the mirror.
    A failed image without such an entry is not in the map. A run in which every image failed does not
    write the map at all.
  - With a mirror registry that hands out Bearer tokens (Quay, Harbor, a registry in token mode), a run
    that is not in check mode asks the token service for C(pull,push) on each mirror repository it may
    push to, from its first request there (the existence checks included, also when nothing turns out
    to be missing), so that one token serves the checks and the pushes. Read-only credentials get the
    actions they have, as the token specification says; a token service that refuses such a request
    instead is then asked for what each request needs.
seealso:
  - name: OCI image layout
    description: The on-disk format this module writes.
    link: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
author:
  - airgap.mirror contributors (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Mirror the MicroShift release images into the mirror registry (connected side)
  airgap.mirror.image_mirror:
    images: "{{ lookup('ansible.builtin.file', 'release-x86_64.json') | from_json | airgap.mirror.microshift_release_images }}"
    dest: mirror.example.com:8443
    dest_username: mirror
    dest_password: "{{ mirror_password }}"
    auth_file: ~/.pull-secret.json
    mirror_map: /srv/mirror/mirror-map.yml
  delegate_to: mirror-host

- name: Re-run a long list of release-tagged images over a slow link, asking only the mirror
  airgap.mirror.image_mirror:
    images: "{{ catalog_images }}"
    dest: mirror.example.com:8443
    mirror_map: /srv/mirror/mirror-map.yml
    immutable_tags: ['v?\d+\.\d+\.\d+']

- name: Mirror to disk only what the site's signature policy accepts (connected side)
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    dest: oci:/media/transfer/images
    signature_policy: /etc/airgap/policy.json
    registries_d: /etc/airgap/registries.d
    mirror_map: /media/transfer/mirror-map.yml

- name: Verify again on the air-gapped side, push, and write the GPG signatures for the hosts
  airgap.mirror.image_mirror:
    images: all
    src: oci:/media/transfer/images
    dest: mirror.example.com:8443
    signature_policy: /etc/airgap/policy.json
    lookaside_dir: /srv/lookaside
    mirror_map: /srv/mirror/mirror-map.yml

- name: One of three workers mirroring one release together (hosts of group mirror_workers)
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    dest: mirror.example.com:8443
    shard_index: "{{ (groups['mirror_workers'] | sort).index(inventory_hostname) }}"
    shard_count: 3

- name: Then, once, complete and check the whole set and write the mirror map
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    dest: mirror.example.com:8443
    verify: true
    mirror_map: /srv/mirror/mirror-map.yml
  run_once: true

- name: Every 8.16 patch release of Elasticsearch, and the three newest releases of Kibana
  airgap.mirror.image_mirror:
    images:
      - src: docker.elastic.co/elasticsearch/elasticsearch
        tags:
          semver: ">=8.16.0 <8.17.0"
      - src: docker.elastic.co/kibana/kibana
        tags:
          semver: "*"
          newest: 3
      - src: quay.io/org/app
        tags:
          include: ['v2\.\d+\.\d+', 'stable']
          exclude: '.*-(rc|beta)\d*'
    dest: mirror.example.com:8443
    mirror_map: /srv/mirror/mirror-map.yml

- name: Pull from Docker Hub gently (anonymous quota), push to the mirror as fast as it takes
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    dest: mirror.example.com:8443
    registry_limits:
      docker.io:
        connections: 2
        requests_per_second: 0.5
      default:
        connections: 8

- name: Mirror to disk, for removable media
  airgap.mirror.image_mirror:
    images:
      - quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:f721414f0bf9f91af79bb0cb2096a2b3a90362f4ecffb6d6a3116305096d375d
      - docker.elastic.co/package-registry/distribution:production
    dest: oci:/srv/transfer/images
    mirror_map: /srv/transfer/mirror-map.yml

- name: Push everything from the layout into the air-gapped mirror
  airgap.mirror.image_mirror:
    src: oci:/media/usb/images
    images: [all]
    dest: registry.internal:5000
    ca_path: /etc/pki/mirror-ca.crt
    mirror_map: /srv/mirror/mirror-map.yml

- name: Upload the seed's skopeo dir exports of a MicroShift release, each recorded under its real source
  airgap.mirror.image_mirror:
    src: dir:~/microshift-containers
    # the release's references (three registries): each is matched to its export by path and digest
    images: "{{ lookup('ansible.builtin.file', 'release-x86_64.json') | from_json | airgap.mirror.microshift_release_images }}"
    dest: microshift-quay:8443
    mirror_map: /srv/mirror/mirror-map.yml

- name: Upload a dir tree of one registry's images (eck/eck-operator:2.16.1 ...; digest tags, not timestamps)
  airgap.mirror.image_mirror:
    src: dir:/srv/transfer/eck-containers
    src_registry: docker.elastic.co
    images: [all]
    dest: microshift-quay:8443

- name: Only what an x86_64 site runs (the mirror map records both digests of each filtered index)
  airgap.mirror.image_mirror:
    images:
      - docker.elastic.co/elasticsearch/elasticsearch:8.16.1
      - src: docker.io/library/busybox:1.36
        platforms: [linux/amd64, linux/arm64]   # this image: two platforms
    platforms: [linux/amd64]
    dest: mirror.example.com:8443
    mirror_map: /srv/mirror/mirror-map.yml

- name: Fetch public images through the connected side's Artifactory remote repositories
  airgap.mirror.image_mirror:
    images:
      - quay.io/org/app:1.0          # from proxy.corp/quay-remote/org/app:1.0
      - nginx:1.27                   # docker.io/library/nginx, from proxy.corp/dockerhub/library/nginx:1.27
      - registry.redhat.io/ubi9/ubi:9.4
    source_mirrors:
      quay.io: proxy.corp/quay-remote
      docker.io: proxy.corp/dockerhub
      registry.redhat.io/ubi9: proxy.corp/rh-ubi9
    auth_file: ~/.config/containers/auth.json   # holds the credentials of proxy.corp
    dest: mirror.example.com:8443                # mirror.example.com:8443/org/app:1.0 ...
    mirror_map: /srv/mirror/mirror-map.yml       # source quay.io/org/app:1.0, source_via proxy.corp/quay-remote/org/app

- name: The same, with the registries.conf the connected side's podman already uses
  airgap.mirror.image_mirror:
    images: "{{ release_images }}"
    source_mirrors_file: /etc/containers/registries.conf.d/50-proxy.conf
    dest: mirror.example.com:8443

- name: Credentials for a whole play through the action group
  module_defaults:
    group/airgap.mirror.registry:
      auth_file: /root/.pull-secret-mirror.json
      ca_path: /etc/pki/ca-trust/source/anchors/mirror-ca.crt
  block:
    - name: Mirror one image with an explicit destination
      airgap.mirror.image_mirror:
        images:
          - src: docker.elastic.co/eck/eck-operator:2.16.1
            dest: mirror.example.com:8443/eck/eck-operator:2.16.1
        dest: mirror.example.com:8443
"""

RETURN = r"""
images:
  description: One entry per requested image.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The normalized source reference.
      type: str
      sample: quay.io/org/app:1.0
    destination:
      description: Where the image is (or would be) in the destination.
      type: str
      sample: mirror.example.com:8443/org/app:1.0
    digest:
      description: Digest of the image's top-level manifest or index.
      type: str
      sample: sha256:0545879ad4932739c9ee42ba7cdbc700d2ebb791809857b70b149a1b9632b5da
    media_type:
      description: Media type of that manifest or index.
      type: str
    platforms:
      description:
        - Platforms of an index (C(os/arch[/variant])); empty for a single manifest.
        - With O(platforms), the platforms copied (also for a single manifest).
      type: list
      elements: str
    source_digest:
      description: The source's digest, when O(platforms) left something out and RV(images[].digest) is the
        filtered index's.
      type: str
      returned: when the image was filtered
      version_added: 1.1.0
    size:
      description: Bytes of every manifest and blob of the image.
      type: int
    status:
      description:
        - V(copied), V(present) (nothing to do), V(would_copy) (check mode) or V(failed).
        - In a sharded run also V(other_shard) (another worker's image) and V(deferred) (left for the
          final run, because a blob another worker uploads was not there within O(shard_wait)).
      type: str
    missing:
      description: Digests of blobs and manifests that O(verify=true) found missing in the destination.
      type: list
      elements: str
      returned: when O(verify=true) found something missing
    changed:
      description: Whether this image was (or would be) written.
      type: bool
    bytes:
      description: Blob bytes this run sent for this image (a blob shared by several images counts once).
      type: int
    seconds:
      description: Time from the first to the last transfer of this image.
      type: float
    blobs:
      description: Blobs C(copied), C(mounted) from another repository, and C(skipped) because present.
      type: dict
    attachments:
      description: Attached artifact tags copied with the image.
      type: list
      elements: str
    source_checked:
      description: V(false) when the image was taken from the mirror map without asking its source (O(immutable_tags)).
      type: bool
      returned: when false
      version_added: 1.1.0
    verified:
      description: How the image passed O(signature_policy) - C(kind) (V(gpg) or V(sigstore)) and the C(keys) that accepted it.
      type: dict
      returned: when O(signature_policy) verified a signature of the image, or the mirror map entry the image was found present by records one
      sample: {"kind": "gpg", "keys": ["9F1C34A0D2E4B8D37A6F1E0B5C2D4E6F8A0B1C2D"]}
      version_added: 1.1.0
    source_via:
      description:
        - The pull-through repository the image was (or, in check mode, would be) fetched from (see
          O(source_mirrors)); for an image found present through the mirror map, the one its entry records.
      type: str
      returned: when the image was fetched through a pull-through source
      sample: proxy.corp/quay-remote/org/app
      version_added: 1.1.0
    error:
      description: Why the image failed, or why it was deferred.
      type: str
      returned: when status is failed or deferred
attachments:
  description: The attached artifacts, in the same form as RV(images).
  returned: always
  type: list
  elements: dict
failed_images:
  description: The entries of RV(images) and RV(attachments) that failed.
  returned: always
  type: list
  elements: dict
totals:
  description: Totals of the run.
  returned: always
  type: dict
  contains:
    images:
      description: Images requested.
      type: int
    copied:
      description: Images written.
      type: int
    present:
      description: Images already complete in the destination.
      type: int
    failed:
      description: Images that failed.
      type: int
    deferred:
      description: Images this worker left for the final run (sharded runs).
      type: int
    other_shard:
      description: Images assigned to other workers (sharded runs).
      type: int
    repaired:
      description: Images O(verify=true) found incomplete and completed.
      type: int
    kept_in_map:
      description: Failed images whose entry from the mirror map as it was before the run is kept in it.
      type: int
      version_added: 1.1.0
    source_not_checked:
      description: Images taken from the mirror map without any request to their source (O(immutable_tags)).
      type: int
      version_added: 1.1.0
    verified:
      description: Images whose signatures O(signature_policy) verified.
      type: int
      returned: when O(signature_policy) is set
      version_added: 1.1.0
    lookaside_files_written:
      description: Signature files written to O(lookaside_dir) (unchanged ones are not counted).
      type: int
      returned: when O(signature_policy) is set
      version_added: 1.1.0
    shard:
      description:
        - This worker's share (sharded runs) - C(index), C(count), C(assigned_blobs), C(assigned_bytes),
          C(assigned_images), and C(bytes_per_shard), the bytes assigned to every worker.
      type: dict
      returned: when O(shard_count) is more than one
    unique_blobs:
      description: Distinct blobs of the images that needed copying (per destination).
      type: int
    unique_bytes:
      description: Bytes of those blobs - what a full copy moves at most.
      type: int
    bytes_to_copy:
      description: In check mode, bytes of the blobs missing from the destination.
      type: int
    bytes_filtered_out:
      description:
        - Bytes of the manifests and blobs that O(platforms) left out of the images to copy (or, in check
          mode, that would be copied) - what the filter saves. V(0) without a filter.
      type: int
      version_added: 1.1.0
    bytes_transferred:
      description: Bytes sent to the destination.
      type: int
    blobs_copied:
      description: Blobs copied.
      type: int
    blobs_mounted:
      description: Blobs mounted from another repository of the destination registry.
      type: int
    blobs_skipped:
      description: Blobs already present.
      type: int
    manifests_pushed:
      description: Manifests and indexes written.
      type: int
    requests:
      description: HTTP requests sent.
      type: int
    retries:
      description: Requests retried.
      type: int
    seconds:
      description: Wall time of the module's work.
      type: float
    peak_rss_bytes:
      description: Peak resident memory of the module process.
      type: int
  sample:
    images: 16
    copied: 1
    present: 15
    failed: 0
mirror_map:
  description:
    - The mirror map entries (the content of O(mirror_map)), one per image present in the destination.
    - Includes the earlier entry of a failed image (see RV(totals.kept_in_map)).
  returned: always
  type: list
  elements: dict
mirror_map_path:
  description: The mirror map file written, if any.
  returned: when O(mirror_map) is set
  type: str
mirror_map_written:
  description:
    - Whether O(mirror_map) was written (or, in check mode, would be). V(false) when its content did not
      change, when no image of the run was copied or found present (the file is left as it was), and
      when writing it failed.
  returned: when O(mirror_map) is set
  type: bool
  version_added: 1.1.0
timings:
  description: Seconds each phase of the run took.
  returned: when the images were resolved (also when some failed)
  type: dict
  version_added: 1.1.0
  contains:
    resolve:
      description: Resolving every image to its digest and its blobs (the plan).
      type: float
    copy:
      description: Copying what is missing (in check mode, finding how many bytes would be copied).
      type: float
    write_map:
      description: Writing the mirror map (V(0.0) without O(mirror_map)).
      type: float
  sample:
    resolve: 1.204
    copy: 31.877
    write_map: 0.004
requests:
  description: The HTTP requests sent to each registry (source and destination), by registry name.
  returned: when the images were resolved (also when some failed)
  type: dict
  version_added: 1.1.0
  sample:
    quay.io: 212
    mirror.example.com:8443: 187
limit_wait_seconds:
  description:
    - Seconds the requests to each registry waited for its limits (O(registry_limits)) and for the
      pauses its rate-limit headers asked for, summed over the requests (several requests wait at
      once, so this can exceed the run's time), by registry name.
    - A registry whose requests waited long is the one its limit slows down.
  returned: when the images were resolved (also when some failed)
  type: dict
  version_added: 1.1.0
  sample:
    docker.io: 41.5
    mirror.example.com:8443: 0.0
"""

import traceback
from importlib.util import find_spec

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.airgap.mirror.plugins.module_utils._backends import image_mirror as B
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._common.progress import Progress, progress_to
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror


def main() -> None:
    module = AnsibleModule(supports_check_mode=True, **B.argument_spec())
    if find_spec("httpx") is None:  # imported with the first registry client (none between layouts)
        module.fail_json(msg=missing_required_lib("httpx"), exception="No module named 'httpx'")
    try:
        run = B.prepare(module.params, module.check_mode)
    except B.CredentialsInReference as exc:
        module.no_log_values.update(exc.secrets)  # also masks the echoed task arguments
        module.fail_json(msg=str(exc))
    except UserError as exc:
        module.fail_json(msg=str(exc))
    progress, close_progress = progress_to(module.params["progress_file"], module.params["progress_interval"])
    progress.start()
    try:
        _run(module, run, progress)
    finally:  # also after fail_json and exit_json (SystemExit): the file ends with "end"
        progress.stop()
        close_progress()


def _run(module: AnsibleModule, run: B.ModuleRun, progress: Progress) -> None:
    try:
        pool = B.pool_for(module.params, run)
        warnings: list[str] = []
        try:
            report = mirror(run.request, pool=pool, warnings=warnings, progress=progress)
        finally:
            pool.close()
        for warning in warnings:
            module.warn(warning)
    except (UserError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # report, with the traceback, instead of a bare module failure
        module.fail_json(msg="unexpected error: %s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc())
    progress.set_phase("write_map")
    result, problems = B.result(report, run, module._diff)
    if problems:
        module.fail_json(msg="\n".join(problems), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
