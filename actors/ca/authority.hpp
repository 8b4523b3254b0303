#pragma once

#include "actors/ca/certificate.hpp"
#include "actors/ca/join_token.hpp"
#include "actors/ca/keys.hpp"
#include "messages/result.hpp"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace skep::ca {

/// The cluster CA as a manager holds it: the CA key, the two join tokens,
/// the certificate lifetime and the nodes whose certificates no longer
/// count. Pure: the CA actor owns one and decides when to save it.
///
/// On disk (a directory of the node's data dir, mode 0700):
///   ca.key     the CA key pair (keys.hpp format, 0600)
///   ca.state   "skep-ca-v1", then `worker <token>`, `manager <token>`,
///              `expiry <seconds>`, one `revoked <node id>` per removed node
///              and one `node <id> <hex key>` per certified node (0600)
class authority {
 public:
  /// Swarm's default node certificate lifetime: 90 days.
  static constexpr std::chrono::seconds default_expiry{90 * 24 * 3600};

  /// A new CA with a fresh key and fresh tokens.
  static authority create(std::chrono::seconds expiry = default_expiry);

  /// A CA from its parts, as the replicated store keeps them on every
  /// manager. The tokens must name this CA.
  static result<authority> from_parts(keypair key, join_token worker,
                                      join_token manager,
                                      std::chrono::seconds expiry);

  /// Records that `node_id` belongs to `node_key` (from the store).
  void bind(const std::string& node_id, const public_key& node_key) {
    nodes_[node_id] = node_key;
  }

  /// Reads a CA saved by save(); fails naming the file and what is wrong.
  static result<authority> load(const std::string& dir);

  /// Writes the CA to `dir` (created 0700 if missing), each file atomically.
  result<void> save(const std::string& dir) const;

  const keypair& key() const noexcept { return key_; }
  const public_key& public_part() const noexcept { return key_.public_part; }

  /// The token that joins a node in `role`.
  const join_token& token(node_role role) const noexcept;

  /// Replaces the token for `role` with a fresh one and returns it. Nodes
  /// that joined keep their certificates; the old token stops working.
  const join_token& rotate(node_role role);

  /// The role a join proof earns: whichever token's secret made it.
  /// Fails when neither did (wrong, rotated or foreign token).
  result<node_role> check_join(const uint8_t* challenge, size_t challenge_size,
                               const public_key& node_key,
                               const token_proof& proof) const;

  /// Signs a certificate for `node_id` valid from `now` for the configured
  /// lifetime, and binds the id to `node_key` for good. Refused for revoked
  /// nodes and for an id already bound to another key (a node may not take
  /// over another's name).
  result<std::vector<uint8_t>> issue(const std::string& node_id, node_role role,
                                     const public_key& node_key,
                                     time_point now);

  /// Fails when `node_id` is revoked or bound to a key other than
  /// `node_key`: what a join must pass before its token is even checked.
  result<void> may_hold(const std::string& node_id,
                        const public_key& node_key) const;

  std::chrono::seconds expiry() const noexcept { return expiry_; }
  /// Sets the lifetime of certificates issued from now on (at least 1 min).
  result<void> set_expiry(std::chrono::seconds expiry);

  /// Marks `node_id` removed: its certificate is refused from now on and it
  /// gets no new one.
  void revoke(const std::string& node_id) { revoked_.insert(node_id); }
  const std::set<std::string>& revoked() const noexcept { return revoked_; }

 private:
  authority() = default;

  keypair key_;
  join_token worker_;
  join_token manager_;
  std::chrono::seconds expiry_ = default_expiry;
  std::set<std::string> revoked_;
  std::map<std::string, public_key> nodes_; ///< id -> the key it belongs to
};

} // namespace skep::ca
