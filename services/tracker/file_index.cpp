#include "services/tracker/file_index.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace p2p::tracker {

namespace {

// A step with no bound: the departures in progress, to the end.
constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();

}  // namespace

FileRecord& FileIndex::insert(const Manifest& manifest, const Hash& id, bool* is_new) {
  auto [it, inserted] = files_.try_emplace(id);
  if (inserted) {
    it->second.id = id;
    it->second.manifest = manifest;
    it->second.first_seen = Clock::now();
    count(it->second);
  }
  *is_new = inserted;
  return it->second;
}

void FileIndex::count(const FileRecord& file) {
  ++counts_.files;
  counts_.bytes += file.manifest.size;
  counts_.stored_bytes += file.manifest.size * file.holders.size();
  if (file.holders.empty()) ++counts_.unavailable;
  ++by_shape_[{wanted_replicas(file), file.holders.size()}];
  const std::size_t n = file.holders.size();
  if (short_files_kept_ && n > 0 && n < wanted_replicas(file)) {
    if (file.waiting_since_loss(loss_cutoff_)) {
      // A loss is the latest, and remove_peer hands in its files by id: the
      // hint makes the insert O(1) (no walk down a tree of a million files).
      auto& level = losing_[n];
      level.emplace_hint(level.end(), ShortFile{file.id, file.lost_at});
    } else {
      short_[n].insert({file.id, file.lost_at});
    }
  }
  if (n > wanted_replicas(file)) surplus_.insert(file.id);
}

void FileIndex::uncount(const FileRecord& file) {
  --counts_.files;
  counts_.bytes -= file.manifest.size;
  counts_.stored_bytes -= file.manifest.size * file.holders.size();
  if (file.holders.empty()) --counts_.unavailable;
  auto shape = by_shape_.find({wanted_replicas(file), file.holders.size()});
  if (--shape->second == 0) by_shape_.erase(shape);
  const std::size_t n = file.holders.size();
  if (short_files_kept_ && n > 0 && n < wanted_replicas(file)) {
    if (file.waiting_since_loss(loss_cutoff_)) {
      auto level = losing_.find(n);
      level->second.erase({file.id, file.lost_at});
      if (level->second.empty()) losing_.erase(level);
    } else {
      auto level = short_.find(n);
      level->second.erase({file.id, file.lost_at});
      if (level->second.empty()) short_.erase(level);
    }
  }
  if (n > wanted_replicas(file)) surplus_.erase(file.id);
}

void FileIndex::pause_short_files() {
  short_files_kept_ = false;
  short_.clear();
  losing_.clear();
}

void FileIndex::keep_short_files() {
  if (short_files_kept_) return;
  short_files_kept_ = true;
  // One pass, then each level filled in its own order with end hints: O(n log n)
  // for the sort, not a walk down a tree for every file.
  std::map<std::size_t, std::vector<ShortFile>> settled, waiting;
  for (const auto& [id, file] : files_) {
    const std::size_t n = file.holders.size();
    if (n == 0 || n >= wanted_replicas(file)) continue;
    (file.waiting_since_loss(loss_cutoff_) ? waiting : settled)[n].push_back({id, file.lost_at});
  }
  for (auto& [n, files] : settled) {
    std::sort(files.begin(), files.end(), ById{});
    auto& level = short_[n];
    for (const ShortFile& f : files) level.emplace_hint(level.end(), f);
  }
  for (auto& [n, files] : waiting) {
    std::sort(files.begin(), files.end(), ByLoss{});
    auto& level = losing_[n];
    for (const ShortFile& f : files) level.emplace_hint(level.end(), f);
  }
}

void FileIndex::expire_losses(Clock::time_point loss_cutoff) const {
  if (loss_cutoff <= loss_cutoff_) return;
  loss_cutoff_ = loss_cutoff;
  for (auto level = losing_.begin(); level != losing_.end();) {
    auto& lost = level->second;
    auto& settled = short_[level->first];
    // Files lost at one time come out by id, so each usually goes right
    // after the one before: a hint there makes the insert O(1).
    auto hint = settled.end();
    while (!lost.empty() && lost.begin()->lost_at <= loss_cutoff)
      hint = std::next(settled.insert(hint, lost.extract(lost.begin())));
    if (settled.empty()) short_.erase(level->first);
    level = lost.empty() ? losing_.erase(level) : std::next(level);
  }
}

bool FileIndex::short_in_repair_grace(std::size_t eligible, Clock::time_point loss_cutoff) const {
  expire_losses(loss_cutoff);
  return !losing_.empty() && losing_.begin()->first < eligible;
}

void FileIndex::visit_short(std::size_t eligible, Clock::time_point loss_cutoff,
                            const std::function<bool(const FileRecord&)>& visit) const {
  expire_losses(loss_cutoff);
  for (const auto& [holders, ids] : short_) {
    if (holders >= eligible) return;  // min(k, eligible) <= holders: not short
    for (const ShortFile& file : ids)
      if (const FileRecord* f = find(file.id); f != nullptr && !visit(*f)) return;
  }
}

void FileIndex::visit_surplus(const std::function<void(const FileRecord&)>& visit) const {
  for (const Hash& id : surplus_)
    if (const FileRecord* f = find(id)) visit(*f);
}

std::uint32_t FileIndex::short_of_holders(std::size_t eligible) const {
  std::uint32_t n = 0;
  for (const auto& [shape, files] : by_shape_)
    if (shape.second < std::min<std::size_t>(shape.first, eligible)) n += files;
  return n;
}

void FileIndex::finish_departure_of(const std::string& peer_id) {
  if (departing() && std::any_of(departures_.begin(), departures_.end(),
                                 [&](const Departure& d) { return *d.peer_id == peer_id; }))
    remove_departed(kAll);
}

void FileIndex::add_holder(FileRecord& file, const std::string* peer, std::unordered_set<Hash, HashHasher>& held) {
  if (file.holders.contains(*peer)) return;
  uncount(file);
  file.holders.insert(peer);
  count(file);
  held.insert(file.id);
}

const std::string* FileIndex::intern(const std::string& peer_id) { return &*peer_ids_.insert(peer_id).first; }

bool FileIndex::is_named(const FileRecord& file) const {
  const Hash* id = names_.find(file.manifest.name);
  return id != nullptr && *id == file.id;
}

void FileIndex::drop_if_orphan(const Hash& id) {
  auto it = files_.find(id);
  if (it == files_.end() || !it->second.holders.empty() || is_named(it->second)) return;
  uncount(it->second);
  files_.erase(it);
}

HoldingOutcome FileIndex::add_holding(const Manifest& manifest, const std::string& peer_id) {
  return add_holdings({&manifest}, peer_id).front();
}

std::vector<HoldingOutcome> FileIndex::add_holdings(const std::vector<const Manifest*>& manifests,
                                                    const std::string& peer_id) {
  std::vector<HoldingOutcome> outcomes(manifests.size());
  if (manifests.empty()) return outcomes;
  finish_departure_of(peer_id);
  const std::string* peer = intern(peer_id);
  auto& held = by_peer_[peer_id];
  for (std::size_t i = 0; i < manifests.size(); ++i) {
    const Manifest& manifest = *manifests[i];
    HoldingOutcome& out = outcomes[i];
    out.id = manifest.file_id();
    FileRecord& file = insert(manifest, out.id, &out.new_file);
    add_holder(file, peer, held);
    // Names are never unbound, so a file already indexed has its name bound
    // (to it, or to the file that had it first): only a new one can bind it.
    // Skipping the try saves a string and a lookup for every holding after a
    // file's first (bind_if_free was 13.5% of the tracker's samples while
    // three peers announced the same files).
    if (out.new_file) out.name_bound = names_.bind_if_free(manifest.name, out.id);
  }
  ++version_;
  return outcomes;
}

Result<Hash> FileIndex::publish(const Manifest& manifest, const std::vector<std::string>& holders, bool force) {
  for (const auto& peer : holders) finish_departure_of(peer);
  const Hash id = manifest.file_id();
  const Hash* bound = names_.find(manifest.name);
  std::optional<Hash> replaced;
  if (bound != nullptr && *bound != id) {
    if (!force)
      return Status{ErrorCode::kNameExists,
                    "the name '" + manifest.name + "' holds a different file (" + bound->hex() + ")"};
    replaced = *bound;
  }
  bool is_new = false;
  FileRecord& file = insert(manifest, id, &is_new);
  uncount(file);
  file.manifest.replicas = manifest.replicas;
  count(file);
  for (const auto& peer : holders) add_holder(file, intern(peer), by_peer_[peer]);
  names_.bind(manifest.name, id);
  if (replaced) drop_if_orphan(*replaced);
  ++version_;
  return id;
}

std::size_t FileIndex::remove_peer(const std::string& peer_id, Clock::time_point now) {
  const std::size_t files = start_departure(peer_id, now);
  remove_departed(kAll);
  return files;
}

std::size_t FileIndex::start_departure(const std::string& peer_id, Clock::time_point now) {
  auto held = by_peer_.find(peer_id);
  if (held == by_peer_.end() || held->second.empty()) return 0;
  const std::size_t files = held->second.size();
  departures_.push_back({intern(peer_id), now, std::move(held->second), {}, {}});
  // Room for every id now: grown by doubling, the copy at 512 Ki ids (16 MiB)
  // took up to 150 ms of one step. Reserved, the pages are touched step by step.
  departures_.back().ids.reserve(files);
  by_peer_.erase(held);
  departed_holdings_ += files;
  ++version_;
  return files;
}

void FileIndex::remove_departed(std::size_t max_files) {
  if (max_files == 0 || departures_.empty()) return;
  ++version_;
  while (max_files != 0 && !departures_.empty()) {
    Departure& d = departures_.front();
    // Taken off by id: each file then goes at the end of its losing_ level
    // (count()), and a second loss finds the files of the first one next to
    // each other there. Taken in any other order, a peer of 1,000,000 files
    // took 3-6 s.
    // First the ids out of the peer's set, which frees it (its nodes lie all
    // over the heap: 0.5-0.65 s to walk at 1,000,000 files), each step's
    // share sorted as a run (sorting them all at once took ~0.16 s)...
    if (!d.held.empty()) {
      const std::size_t first = d.ids.size();
      for (; max_files != 0 && !d.held.empty(); --max_files)
        d.ids.push_back(d.held.extract(d.held.begin()).value());
      std::sort(d.ids.begin() + static_cast<std::ptrdiff_t>(first), d.ids.end());
      d.runs.push_back({first, d.ids.size()});
      if (!d.held.empty()) return;
      std::make_heap(d.runs.begin(), d.runs.end(), LaterRun{&d.ids});
    }
    // ...then the runs merged as the files are taken off (a heap of runs by
    // their next id).
    for (; max_files != 0 && !d.runs.empty(); --max_files) {
      std::pop_heap(d.runs.begin(), d.runs.end(), LaterRun{&d.ids});
      Run& run = d.runs.back();
      remove_departed_holder(d.ids[run.next++], *d.peer_id, d.at);
      --departed_holdings_;
      if (run.next == run.end)
        d.runs.pop_back();
      else
        std::push_heap(d.runs.begin(), d.runs.end(), LaterRun{&d.ids});
    }
    if (d.runs.empty()) departures_.pop_front();
  }
}

void FileIndex::remove_departed_holder(const Hash& id, const std::string& peer_id, Clock::time_point at) {
  auto it = files_.find(id);
  if (it == files_.end() || !it->second.holders.contains(peer_id)) return;
  FileRecord& file = it->second;
  uncount(file);  // before the loss fields change: they place a short file (count())
  // Several losses in a row count from the most holders before them.
  file.holders_before_loss = std::max(file.holders_before_loss, file.holders.size());
  file.lost_at = at;
  file.holders.erase(peer_id);
  count(file);
  drop_if_orphan(id);
}

bool FileIndex::remove_holding(const Hash& id, const std::string& peer_id) {
  auto it = files_.find(id);
  if (it == files_.end() || !it->second.holders.contains(peer_id)) return false;
  ++version_;
  FileRecord& file = it->second;
  uncount(file);
  file.holders.erase(peer_id);
  // A trim lowers the count to wait for: the dropped copy is not coming back.
  file.holders_before_loss = std::min(file.holders_before_loss, file.holders.size());
  count(file);
  auto held = by_peer_.find(peer_id);
  if (held != by_peer_.end()) {
    held->second.erase(id);
    if (held->second.empty()) by_peer_.erase(held);
  }
  drop_if_orphan(id);
  return true;
}

const FileRecord* FileIndex::find(const Hash& id) const {
  auto it = files_.find(id);
  return it == files_.end() ? nullptr : &it->second;
}

const FileRecord* FileIndex::find_name(std::string_view name) const {
  const Hash* id = names_.find(name);
  return id == nullptr ? nullptr : find(*id);
}

const FileRecord* FileIndex::lookup(std::string_view query) const {
  // No name is 64 hex digits (validate_name): such a query is a file id only.
  if (auto id = Hash::from_hex(query)) return find(*id);
  return find_name(query);
}

std::vector<const FileRecord*> FileIndex::search(const NamePattern& pattern, std::size_t limit) const {
  const std::vector<Hash> ids = names_.search(pattern, limit);
  std::vector<const FileRecord*> out;
  out.reserve(ids.size());
  for (const Hash& id : ids)
    if (const FileRecord* f = find(id)) out.push_back(f);
  return out;
}

std::uint32_t FileIndex::wanted_replicas(const FileRecord& file) const {
  return file.manifest.replicas != 0 ? file.manifest.replicas : default_replicas_;
}

std::size_t FileIndex::files_held_by(const std::string& peer_id) const {
  auto it = by_peer_.find(peer_id);
  return it == by_peer_.end() ? 0 : it->second.size();
}

std::vector<const FileRecord*> FileIndex::held_by(const std::string& peer_id) const {
  std::vector<const FileRecord*> out;
  auto held = by_peer_.find(peer_id);
  if (held == by_peer_.end()) return out;
  for (const Hash& id : held->second)
    if (const FileRecord* f = find(id)) out.push_back(f);
  return out;
}

std::vector<const FileRecord*> FileIndex::all_files() const {
  std::vector<const FileRecord*> out;
  out.reserve(files_.size());
  for (const auto& [id, f] : files_) out.push_back(&f);
  return out;
}

}  // namespace p2p::tracker
