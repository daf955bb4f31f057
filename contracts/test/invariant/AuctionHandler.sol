// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.31;

import {FillsProof} from "../utils/FillsProof.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "../utils/Vm.sol";
import {MockERC20} from "../utils/Mocks.sol";
import {SealgridAuction} from "../../src/SealgridAuction.sol";
import {ISealgridAuction} from "../../src/interfaces/ISealgridAuction.sol";
import {EnergyIntentToken, tokenId} from "../../src/EnergyIntentToken.sol";
import {OrderLib} from "../../src/libraries/OrderLib.sol";
import {FillsLib} from "../../src/libraries/FillsLib.sol";

/// @notice TEST ONLY: a contract trader with no ERC-1155 receiver hook.
contract NoReceiverActor {}

/// @notice Drives the auction through random sequences of commits (with spam above the
///         per-account cap and below the unopened fee), withdrawals, settles, claims
///         (single, late, and batched in any order with duplicates and consumed items), refunds,
///         disputes by anyone, attempted intent transfers, burns, deposits and time, with a
///         contract trader without a receiver among the actors, and keeps ghost sums to check against.
contract AuctionHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    SealgridAuction public immutable auction;
    MockERC20 public immutable token;
    EnergyIntentToken public immutable intents;
    bytes32 public immutable market;
    uint256 internal immutable operatorPk;
    address internal immutable operator;
    uint24 internal constant L = 300;
    uint24 internal constant LEAD = 300;
    uint24 internal constant WINDOW = 240;
    /// @dev The market's spam limits (AuctionInvariants creates it with these).
    uint128 public constant FEE = 1000;
    uint256 public constant PER_ACCOUNT = 4;

    /// @dev Three EOAs and a contract without an ERC-1155 receiver (set in the constructor).
    address[4] public actors = [address(0x1001), address(0x1002), address(0x1003), address(0)];
    uint256 public constant ACTORS = 4;

    struct Rec {
        ISealgridAuction.CommitmentRecord record;
        OrderLib.Order order;
        bool outstanding;
        bool claimed;
    }

    mapping(uint64 interval => Rec[]) internal _recs;
    mapping(uint64 interval => uint64[]) internal _words;
    uint64[] public intervals;

    // Ghost state.
    uint256 public ghostLocks;
    uint256 public ghostUnclaimedFills;
    bool public ghostDoubleClaim;
    bool public ghostRefundFailed;
    bool public ghostRefundMovedOther;
    bool public ghostVaultBreach;
    mapping(uint256 id => uint256) public ghostMinted;
    mapping(uint256 id => uint256) public ghostBurned;
    uint256[] public ids;
    mapping(uint256 id => bool) internal _seenId;
    mapping(bytes32 => uint256) public calls;
    bool public ghostIntentMoved;
    bool public ghostBatchReverted;
    bool public ghostClaimMismatch;
    bool public ghostDisputeMisdirected;
    /// @dev A commitment above the per-account cap or with a lock below the fee was accepted, or a
    ///      withdrawal moved other than lock - fee to the trader and the fee to insurance.
    bool public ghostSpamAccepted;
    bool public ghostWithdrawMismatch;
    /// @dev Unopened fees taken (withdrawals and excluded claims).
    uint256 public ghostFees;
    mapping(uint64 interval => mapping(address account => uint256)) internal _perAccount;
    /// @dev Per interval: collected from payers (their locks and the bond's cover), paid to
    ///      payees, and still due from payers whose fills are not claimed yet.
    mapping(uint64 interval => uint256) public ghostIn;
    mapping(uint64 interval => uint256) public ghostOut;
    mapping(uint64 interval => uint256) public ghostDue;

    constructor(
        SealgridAuction auction_,
        MockERC20 token_,
        EnergyIntentToken intents_,
        bytes32 market_,
        uint256 operatorPk_
    ) {
        auction = auction_;
        token = token_;
        intents = intents_;
        market = market_;
        operatorPk = operatorPk_;
        operator = vm.addr(operatorPk_);
        actors[3] = address(new NoReceiverActor());
        for (uint256 k; k < actors.length; ++k) {
            token_.mint(actors[k], 1e18);
            vm.prank(actors[k]);
            token_.approve(address(auction_), type(uint256).max);
        }
    }

    function idsLength() external view returns (uint256) {
        return ids.length;
    }

    function intervalsLength() external view returns (uint256) {
        return intervals.length;
    }

    // ---------------------------------------------------------------- actions

    function commit(uint256 actorSeed, uint256 seed, uint128 lock) external {
        address a = actors[actorSeed % actors.length];
        uint64 i = uint64((block.timestamp + LEAD) / L + 1 + (seed >> 4) % 2);
        lock = uint128(lock % 300_000);
        OrderLib.Order memory o = OrderLib.Order({
            trader: a,
            market: market,
            interval: i,
            side: uint8((seed + _recs[i].length) % 2), // sides alternate, so books cross
            quantityWh: uint64(1 + (seed >> 8) % 2000),
            limitPrice: int64(int256((seed >> 32) % 400_000)) - 100_000,
            nonce: uint64(seed >> 64),
            salt: bytes32(uint256(keccak256(abi.encode(seed))) >> 8)
        });
        bytes32 c = auction.orderCommitment(o);
        if (_perAccount[i][a] >= PER_ACCOUNT) {
            // Spam: above the cap the commit must be refused, whatever the lock.
            vm.prank(a);
            try auction.commit(market, i, c, lock + FEE) {
                ghostSpamAccepted = true;
            } catch {}
            return;
        }
        if (seed % 7 == 0) {
            // Spam: a lock below the fee must be refused.
            vm.prank(a);
            try auction.commit(market, i, c, lock % FEE) {
                ghostSpamAccepted = true;
            } catch {}
            return;
        }
        lock += FEE;
        vm.prank(a);
        uint32 index = auction.commit(market, i, c, lock);
        _perAccount[i][a]++;
        if (_recs[i].length == 0) intervals.push(i);
        _recs[i].push(
            Rec({
                record: ISealgridAuction.CommitmentRecord({
                    index: index, trader: a, lock: lock, commitment: c
                }),
                order: o,
                outstanding: true,
                claimed: false
            })
        );
        ghostLocks += lock;
        calls["commit"]++;
    }

    function withdrawCommitment(uint256 seed) external {
        (bool found, uint64 i, uint256 k) = _pickOutstanding(seed);
        if (!found) return;
        Rec storage r = _recs[i][k];
        IERC20 t = IERC20(address(token));
        uint256 freeBefore = auction.balanceOf(t, r.record.trader);
        uint256 insuredBefore = auction.insurance(market);
        (, uint256 fee) = auction.commitLimits(market, i);
        vm.prank(r.record.trader);
        auction.withdrawCommitment(market, i, r.record);
        if (
            auction.balanceOf(t, r.record.trader) != freeBefore + r.record.lock - fee
                || auction.insurance(market) != insuredBefore + fee
        ) ghostWithdrawMismatch = true;
        r.outstanding = false;
        ghostLocks -= r.record.lock;
        ghostFees += fee;
        calls["withdraw"]++;
    }

    function settle(uint256 seed) external {
        // An interval that can still be settled, searched from a random place in the list.
        uint256 n = intervals.length;
        uint64 i;
        uint256 gate;
        bool found;
        for (uint256 j; j < n && !found; ++j) {
            i = intervals[(seed + j) % n];
            (,, ISealgridAuction.Status status,,,) = auction.getInterval(market, i);
            gate = uint256(i) * L - LEAD;
            found = status == ISealgridAuction.Status.Open && block.timestamp < gate + WINDOW
                && (seed % 4 == 0 || _crosses(i));
        }
        if (!found) return;
        if (block.timestamp < gate) vm.warp(gate);
        Rec[] storage rs = _recs[i];
        uint64[] memory w = new uint64[](rs.length);
        // Random buy fills, then sells matched to the same total; withdrawn ones excluded.
        uint64 buys;
        for (uint256 k; k < rs.length; ++k) {
            uint256 s = uint256(keccak256(abi.encode(seed, k)));
            if (auction.isWithdrawn(market, i, uint32(k)) || s % 5 == 0) {
                w[k] = FillsLib.EXCLUDED_FLAG;
            } else if (rs[k].order.side == 0) {
                w[k] = uint64(s % (rs[k].order.quantityWh + 1));
                buys += w[k];
            }
        }
        uint64 sells;
        for (uint256 k; k < rs.length; ++k) {
            if (w[k] != 0 || rs[k].order.side == 0) continue;
            uint64 q = rs[k].order.quantityWh;
            uint64 take = q < buys - sells ? q : buys - sells;
            if (take != 0) w[k] = take | FillsLib.SELL_FLAG;
            sells += take;
        }
        if (sells < buys) {
            // Not enough supply: scale buys down to the sells by trimming from the front.
            uint64 excess = buys - sells;
            for (uint256 k; k < rs.length && excess > 0; ++k) {
                if (w[k] & (FillsLib.SELL_FLAG | FillsLib.EXCLUDED_FLAG) != 0) continue;
                uint64 cut = w[k] < excess ? w[k] : excess;
                w[k] -= cut;
                excess -= cut;
            }
            buys = sells;
        }
        int64 price = buys == 0 ? int64(0) : int64(int256(seed % 300_000)) - 100_000;
        if (buys != 0 && price == 0) price = 1;
        bytes memory packed;
        for (uint256 k; k < w.length; ++k) {
            packed = bytes.concat(packed, bytes8(w[k]));
        }
        vm.prank(operator);
        auction.settle(market, i, price, buys, packed, "");
        _words[i] = w;
        for (uint256 k; k < rs.length; ++k) {
            uint64 q = w[k] & FillsLib.QUANTITY_MASK;
            if (!rs[k].outstanding || q == 0) continue;
            ghostUnclaimedFills++;
            if ((w[k] & FillsLib.SELL_FLAG != 0) == (price < 0)) ghostDue[i] += _pay(q, price);
        }
        calls["settle"]++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + secs % 900);
        calls["warp"]++;
    }

    /// Claims one record (any record, consumed or not, at any time: late claims included); a
    /// consumed one must fail (property b), a successful one must move exactly what the
    /// clearing rule says.
    function claim(uint256 seed) external {
        (bool found, uint64 i, uint256 k) = _pickAny(seed);
        if (!found || _words[i].length == 0) return;
        uint256[] memory ks = new uint256[](1);
        ks[0] = k;
        Prediction memory pr = _predict(i, ks);
        vm.prank(actors[(seed >> 40) % ACTORS]); // anyone may claim for anyone
        try auction.claim(market, i, _claimOf(i, k)) {
            if (!pr.claimed[0]) ghostDoubleClaim = true;
            _check(i, ks, pr);
            calls["claim"]++;
        } catch {}
    }

    /// The operator's (or anyone's) batched claim over records in any order, with duplicates and
    /// consumed ones: it must never revert on a final interval, must claim exactly the
    /// outstanding items once, and skip the rest.
    function claimBatchAnyOrder(uint256 seed, uint8 n) external {
        (bool found, uint64 i) = _pickFinal(seed);
        if (!found) return;
        uint256[] memory ks = new uint256[](1 + n % 8);
        ISealgridAuction.Claim[] memory cs = new ISealgridAuction.Claim[](ks.length);
        for (uint256 j; j < ks.length; ++j) {
            ks[j] = uint256(keccak256(abi.encode(seed, j))) % _recs[i].length;
            cs[j] = _claimOf(i, ks[j]);
        }
        Prediction memory pr = _predict(i, ks);
        vm.prank((seed >> 200) % 2 == 0 ? operator : actors[(seed >> 100) % ACTORS]);
        try auction.claimBatch(market, i, cs) {
            _check(i, ks, pr);
            calls["claimBatch"]++;
        } catch {
            ghostBatchReverted = true;
        }
    }

    /// Every way to move an intent between accounts (transfer, batch transfer, approval then
    /// transfer by the approved account); each must fail and move nothing.
    function transferIntents(uint256 seed, uint256 amount) external {
        if (ids.length == 0) return;
        uint256 id = ids[seed % ids.length];
        address from = actors[(seed >> 8) % ACTORS];
        address to = actors[(seed >> 16) % ACTORS];
        uint256 fromBal = intents.balanceOf(from, id);
        uint256 toBal = intents.balanceOf(to, id);
        amount = amount % (fromBal + 1);
        uint256 mode = (seed >> 24) % 3;
        if (mode == 0) {
            vm.prank(from);
            try intents.safeTransferFrom(from, to, id, amount, "") {
                ghostIntentMoved = true;
            } catch {}
        } else if (mode == 1) {
            uint256[] memory is_ = new uint256[](1);
            uint256[] memory vs = new uint256[](1);
            (is_[0], vs[0]) = (id, amount);
            vm.prank(from);
            try intents.safeBatchTransferFrom(from, to, is_, vs, "") {
                ghostIntentMoved = true;
            } catch {}
        } else {
            vm.prank(from);
            try intents.setApprovalForAll(to, true) {
                ghostIntentMoved = true;
            } catch {}
            vm.prank(to);
            try intents.safeTransferFrom(from, to, id, amount, "") {
                ghostIntentMoved = true;
            } catch {}
        }
        if (from != to && (intents.balanceOf(from, id) != fromBal || intents.balanceOf(to, id) != toBal)) {
            ghostIntentMoved = true;
        }
        calls["transfer"]++;
    }

    /// Days pass: later claims and refunds of old intervals must still work.
    function warpFar(uint256 d) external {
        vm.warp(block.timestamp + 1 days * (1 + d % 30));
        calls["warpFar"]++;
    }

    function refund(uint256 seed) external {
        (bool found, uint64 i,) = _pickOutstanding(seed);
        if (!found) return;
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(market, i);
        uint256 deadline = uint256(i) * L - LEAD + WINDOW;
        bool refundable = status == ISealgridAuction.Status.Voided
            || (status == ISealgridAuction.Status.Open && block.timestamp >= deadline);
        if (!refundable) return;
        _refundAll(i);
    }

    /// Disputes, as anyone, the first provable exclusion of a settled interval that has not
    /// started (searched from a random place in the list).
    function dispute(uint256 seed) external {
        uint256 n = intervals.length;
        for (uint256 j; j < n; ++j) {
            uint64 i = intervals[(seed + j) % n];
            if (_words[i].length != 0 && block.timestamp < uint256(i) * L && _disputeIn(i, seed)) return;
        }
    }

    function _disputeIn(uint64 i, uint256 seed) internal returns (bool) {
        uint64[] storage w = _words[i];
        Rec[] storage rs = _recs[i];
        for (uint256 k; k < rs.length; ++k) {
            if (!rs[k].outstanding || w[k] != FillsLib.EXCLUDED_FLAG) continue;
            OrderLib.Order memory o = rs[k].order;
            if (rs[k].record.lock < OrderLib.requiredLock(o.side, o.quantityWh, o.limitPrice)) continue;
            bytes32 digest = auction.receiptDigest(market, i, uint32(k), rs[k].record.commitment);
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(operatorPk, digest);
            ISealgridAuction.Dispute memory d = ISealgridAuction.Dispute({
                index: uint32(k),
                order: o,
                lock: rs[k].record.lock,
                proof: FillsProof.siblings(w, uint32(k)),
                receipt: abi.encodePacked(r, s, v)
            });
            address caller = address(uint160(uint256(keccak256(abi.encode(seed, "caller")))));
            if (seed % 3 == 0) caller = actors[(seed >> 8) % ACTORS];
            _disputeAs(caller, i, rs[k].record, d);
            rs[k].outstanding = false;
            ghostLocks -= rs[k].record.lock;
            // The voided interval's fills will never be claimed.
            for (uint256 j; j < rs.length; ++j) {
                if (rs[j].outstanding && w[j] & FillsLib.QUANTITY_MASK != 0) ghostUnclaimedFills--;
            }
            delete _words[i];
            ghostDue[i] = 0;
            calls["dispute"]++;
            _refundAll(i);
            return true;
        }
        return false;
    }

    /// @dev Disputes as `caller` (anyone) and checks that only the trader's lock and the slash
    ///      (bond to insurance) moved.
    function _disputeAs(
        address caller,
        uint64 i,
        ISealgridAuction.CommitmentRecord memory rec,
        ISealgridAuction.Dispute memory d
    ) internal {
        IERC20 t = IERC20(address(token));
        uint256 traderBefore = auction.balanceOf(t, rec.trader);
        uint256 callerBefore = auction.balanceOf(t, caller);
        uint256 insuredBefore = auction.insurance(market);
        (ISealgridAuction.MarketParams memory p,,, uint128 bondBefore) = auction.getMarket(market);
        vm.prank(caller);
        auction.dispute(market, i, d);
        uint256 slash = bondBefore < p.slashAmount ? bondBefore : p.slashAmount;
        (,,, uint128 bondAfter) = auction.getMarket(market);
        if (
            auction.balanceOf(t, rec.trader) != traderBefore + rec.lock
                || (caller != rec.trader && auction.balanceOf(t, caller) != callerBefore)
                || auction.insurance(market) != insuredBefore + slash || bondBefore - bondAfter != slash
        ) ghostDisputeMisdirected = true;
    }

    function burn(uint256 seed, uint256 amount) external {
        if (ids.length == 0) return;
        uint256 id = ids[seed % ids.length];
        address a = actors[(seed >> 8) % actors.length];
        uint256 bal = intents.balanceOf(a, id);
        if (bal == 0) return;
        amount = 1 + amount % bal;
        vm.prank(address(auction));
        intents.burn(a, id, amount);
        ghostBurned[id] += amount;
        calls["burn"]++;
    }

    function depositAndWithdraw(uint256 actorSeed, uint128 amount, bool out) external {
        address a = actors[actorSeed % actors.length];
        amount = uint128(1 + amount % 1e9);
        vm.startPrank(a);
        if (out) {
            uint256 bal = auction.balanceOf(IERC20(address(token)), a);
            if (bal != 0) auction.withdraw(IERC20(address(token)), a, 1 + amount % bal);
        } else {
            auction.deposit(IERC20(address(token)), a, amount);
        }
        vm.stopPrank();
        calls["funds"]++;
    }

    /// Attacks the collateral vault: an actor withdraws more than its own free balance (another
    /// actor's balance on top, or collateral locked in its commitments); it must revert and move
    /// nothing (property e).
    function overdraw(uint256 actorSeed, uint256 victimSeed, uint128 extra) external {
        address a = actors[actorSeed % actors.length];
        address v = actors[victimSeed % actors.length];
        IERC20 t = IERC20(address(token));
        uint256 own = auction.balanceOf(t, a);
        uint256 victim = auction.balanceOf(t, v);
        uint256 held = token.balanceOf(address(auction));
        uint256 amount = own + 1 + (v == a ? extra % 1e9 : victim);
        vm.prank(a);
        try auction.withdraw(t, v, amount) {
            ghostVaultBreach = true;
        } catch {}
        if (token.balanceOf(address(auction)) != held || auction.balanceOf(t, v) != victim) {
            ghostVaultBreach = true;
        }
        calls["overdraw"]++;
    }

    // ---------------------------------------------------------------- helpers

    /// @dev What claiming the records `ks` of `i` (in that order) must do: which are claimed (the
    ///      outstanding ones, each once), and the free balances and bond afterwards.
    struct Prediction {
        bool[] claimed;
        uint256[4] free;
        uint256 bond;
        uint256 collected;
        uint256 paid;
        uint256 due;
        uint256 insurance;
        uint256 fees;
    }

    /// @dev True if interval `i` has an outstanding buy and an outstanding sell (mostly only such
    ///      intervals are settled, so that fills, and claims that pay, are frequent).
    function _crosses(uint64 i) internal view returns (bool) {
        bool buy;
        bool sell;
        Rec[] storage rs = _recs[i];
        for (uint256 k; k < rs.length; ++k) {
            if (!rs[k].outstanding) continue;
            if (rs[k].order.side == 0) buy = true;
            else sell = true;
        }
        return buy && sell;
    }

    function _claimOf(uint64 i, uint256 k) internal view returns (ISealgridAuction.Claim memory) {
        return ISealgridAuction.Claim({
            record: _recs[i][k].record, word: _words[i][k], proof: FillsProof.siblings(_words[i], uint32(k))
        });
    }

    function _pay(uint64 q, int64 price) internal pure returns (uint256) {
        uint256 abs = uint256(q) * uint256(price > 0 ? int256(price) : -int256(price));
        return (abs + 999) / 1000;
    }

    function _actorIndex(address a) internal view returns (uint256) {
        for (uint256 n; n < ACTORS; ++n) {
            if (actors[n] == a) return n;
        }
        revert("unknown actor");
    }

    function _predict(uint64 i, uint256[] memory ks) internal view returns (Prediction memory pr) {
        pr.claimed = new bool[](ks.length);
        for (uint256 n; n < ACTORS; ++n) {
            pr.free[n] = auction.balanceOf(IERC20(address(token)), actors[n]);
        }
        (,,, pr.bond) = auction.getMarket(market);
        (,,, int64 price,,) = auction.getInterval(market, i);
        pr.insurance = auction.insurance(market);
        (, uint256 fee) = auction.commitLimits(market, i);
        bool[] memory seen = new bool[](_recs[i].length);
        for (uint256 j; j < ks.length; ++j) {
            Rec storage r = _recs[i][ks[j]];
            if (!r.outstanding || seen[ks[j]]) continue;
            seen[ks[j]] = true;
            pr.claimed[j] = true;
            uint256 a = _actorIndex(r.record.trader);
            uint64 word = _words[i][ks[j]];
            uint64 q = word & FillsLib.QUANTITY_MASK;
            uint256 lock = r.record.lock;
            if (word & FillsLib.EXCLUDED_FLAG != 0) {
                // Never opened: the fee goes to insurance, the rest of the lock back.
                pr.free[a] += lock - fee;
                pr.insurance += fee;
                pr.fees += fee;
            } else if (q == 0 || price == 0) {
                pr.free[a] += lock;
            } else if ((word & FillsLib.SELL_FLAG != 0) == (price < 0)) {
                uint256 pay = _pay(q, price);
                uint256 covered = pay < lock ? pay : lock;
                uint256 short_ = pay - covered;
                uint256 fromBond = short_ < pr.bond ? short_ : pr.bond;
                pr.bond -= fromBond;
                pr.free[a] += lock - covered;
                pr.collected += covered + fromBond;
                pr.due += pay;
            } else {
                uint256 abs = uint256(q) * uint256(price > 0 ? int256(price) : -int256(price));
                pr.free[a] += abs / 1000 + lock;
                pr.paid += abs / 1000;
            }
        }
    }

    /// @dev After a successful claim or batch: the books moved exactly as predicted; the ghosts
    ///      follow.
    function _check(uint64 i, uint256[] memory ks, Prediction memory pr) internal {
        for (uint256 n; n < ACTORS; ++n) {
            if (auction.balanceOf(IERC20(address(token)), actors[n]) != pr.free[n]) {
                ghostClaimMismatch = true;
            }
        }
        (,,, uint128 bond) = auction.getMarket(market);
        if (bond != pr.bond) ghostClaimMismatch = true;
        if (auction.insurance(market) != pr.insurance) ghostClaimMismatch = true;
        ghostFees += pr.fees;
        ghostIn[i] += pr.collected;
        ghostOut[i] += pr.paid;
        ghostDue[i] -= pr.due;
        (, uint32 seq,,) = auction.getMarket(market);
        for (uint256 j; j < ks.length; ++j) {
            Rec storage r = _recs[i][ks[j]];
            if (!pr.claimed[j]) {
                if (auction.isOutstanding(market, i, r.record) != r.outstanding) ghostClaimMismatch = true;
                continue;
            }
            if (auction.isOutstanding(market, i, r.record)) ghostClaimMismatch = true;
            r.claimed = true;
            r.outstanding = false;
            ghostLocks -= r.record.lock;
            uint64 word = _words[i][ks[j]];
            uint64 q = word & FillsLib.QUANTITY_MASK;
            if (q != 0) {
                ghostUnclaimedFills--;
                uint256 id = tokenId(seq, i, word & FillsLib.SELL_FLAG != 0 ? 1 : 0);
                ghostMinted[id] += q;
                if (!_seenId[id]) {
                    _seenId[id] = true;
                    ids.push(id);
                }
            }
        }
    }

    /// @dev Refunds every outstanding lock of a refundable interval and checks that each refund
    ///      moves exactly that lock and nothing else (property c).
    function _refundAll(uint64 i) internal {
        Rec[] storage rs = _recs[i];
        (,,, uint128 bondBefore) = auction.getMarket(market);
        uint256 tokensBefore = token.balanceOf(address(auction));
        for (uint256 k; k < rs.length; ++k) {
            if (!rs[k].outstanding) continue;
            uint256[4] memory before;
            for (uint256 a; a < actors.length; ++a) {
                before[a] = auction.balanceOf(IERC20(address(token)), actors[a]);
            }
            try auction.refund(market, i, rs[k].record) {
                for (uint256 a; a < actors.length; ++a) {
                    uint256 expected = before[a] + (actors[a] == rs[k].record.trader ? rs[k].record.lock : 0);
                    if (auction.balanceOf(IERC20(address(token)), actors[a]) != expected) {
                        ghostRefundMovedOther = true;
                    }
                }
                rs[k].outstanding = false;
                ghostLocks -= rs[k].record.lock;
                calls["refund"]++;
            } catch {
                ghostRefundFailed = true;
            }
        }
        (,,, uint128 bondAfter) = auction.getMarket(market);
        if (bondAfter != bondBefore || token.balanceOf(address(auction)) != tokensBefore) {
            ghostRefundMovedOther = true;
        }
    }

    function _pickOutstanding(uint256 seed) internal view returns (bool, uint64, uint256) {
        if (intervals.length == 0) return (false, 0, 0);
        uint64 i = intervals[seed % intervals.length];
        Rec[] storage rs = _recs[i];
        for (uint256 n; n < rs.length; ++n) {
            uint256 k = (seed + n) % rs.length;
            if (rs[k].outstanding) return (true, i, k);
        }
        return (false, 0, 0);
    }

    /// @dev Any record, consumed or not, of a final settled interval when there is one (else of
    ///      any interval): claiming a consumed one must fail (property b).
    function _pickAny(uint256 seed) internal view returns (bool, uint64, uint256) {
        if (intervals.length == 0) return (false, 0, 0);
        (bool found, uint64 i) = _pickFinal(seed);
        if (!found) i = intervals[seed % intervals.length];
        if (_recs[i].length == 0) return (false, 0, 0);
        return (true, i, (seed >> 16) % _recs[i].length);
    }

    /// @dev A settled interval whose start has passed (claims are open), searched from a random
    ///      place in the list.
    function _pickFinal(uint256 seed) internal view returns (bool, uint64) {
        uint256 n = intervals.length;
        for (uint256 j; j < n; ++j) {
            uint64 i = intervals[(seed + j) % n];
            if (_words[i].length == 0 || block.timestamp < uint256(i) * L) continue;
            (,, ISealgridAuction.Status status,,,) = auction.getInterval(market, i);
            if (status == ISealgridAuction.Status.Settled) return (true, i);
        }
        return (false, 0);
    }
}
