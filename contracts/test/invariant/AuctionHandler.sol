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

/// @notice Drives the auction through random sequences of commits, withdrawals, settles, claims,
///         refunds, disputes, burns, deposits and time, and keeps ghost sums to check against.
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

    address[3] public actors = [address(0x1001), address(0x1002), address(0x1003)];

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
        uint64 i = uint64((block.timestamp + LEAD) / L + 1 + seed % 3);
        lock = uint128(lock % 300_000);
        OrderLib.Order memory o = OrderLib.Order({
            trader: a,
            market: market,
            interval: i,
            side: uint8(seed % 2),
            quantityWh: uint64(1 + (seed >> 8) % 2000),
            limitPrice: int64(int256((seed >> 32) % 400_000)) - 100_000,
            nonce: uint64(seed >> 64),
            salt: bytes32(uint256(keccak256(abi.encode(seed))) >> 8)
        });
        bytes32 c = auction.orderCommitment(o);
        vm.prank(a);
        uint32 index = auction.commit(market, i, c, lock);
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
        vm.prank(r.record.trader);
        auction.withdrawCommitment(market, i, r.record);
        r.outstanding = false;
        ghostLocks -= r.record.lock;
        calls["withdraw"]++;
    }

    function settle(uint256 seed) external {
        if (intervals.length == 0) return;
        uint64 i = intervals[seed % intervals.length];
        (,, ISealgridAuction.Status status,,,) = auction.getInterval(market, i);
        uint256 gate = uint256(i) * L - LEAD;
        if (status != ISealgridAuction.Status.Open || block.timestamp >= gate + WINDOW) return;
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
            if (rs[k].outstanding && w[k] & FillsLib.QUANTITY_MASK != 0) ghostUnclaimedFills++;
        }
        calls["settle"]++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + secs % 900);
        calls["warp"]++;
    }

    function claim(uint256 seed) external {
        (bool found, uint64 i, uint256 k) = _pickAny(seed);
        if (!found || _words[i].length == 0) return;
        Rec storage r = _recs[i][k];
        ISealgridAuction.Claim memory c = ISealgridAuction.Claim({
            record: r.record, word: _words[i][k], proof: FillsProof.siblings(_words[i], uint32(k))
        });
        try auction.claim(market, i, c) {
            if (r.claimed || !r.outstanding) ghostDoubleClaim = true;
            r.claimed = true;
            r.outstanding = false;
            ghostLocks -= r.record.lock;
            uint64 q = c.word & FillsLib.QUANTITY_MASK;
            if (q != 0) {
                ghostUnclaimedFills--;
                (, uint32 seq,,) = auction.getMarket(market);
                uint256 id = tokenId(seq, i, c.word & FillsLib.SELL_FLAG != 0 ? 1 : 0);
                ghostMinted[id] += q;
                if (!_seenId[id]) {
                    _seenId[id] = true;
                    ids.push(id);
                }
            }
            calls["claim"]++;
        } catch {}
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

    function dispute(uint256 seed) external {
        if (intervals.length == 0) return;
        uint64 i = intervals[seed % intervals.length];
        uint64[] storage w = _words[i];
        Rec[] storage rs = _recs[i];
        if (w.length == 0 || block.timestamp >= uint256(i) * L) return;
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
            auction.dispute(market, i, d);
            rs[k].outstanding = false;
            ghostLocks -= rs[k].record.lock;
            // The voided interval's fills will never be claimed.
            for (uint256 j; j < rs.length; ++j) {
                if (rs[j].outstanding && w[j] & FillsLib.QUANTITY_MASK != 0) ghostUnclaimedFills--;
            }
            delete _words[i];
            calls["dispute"]++;
            _refundAll(i);
            return;
        }
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

    /// @dev Refunds every outstanding lock of a refundable interval and checks that each refund
    ///      moves exactly that lock and nothing else (property c).
    function _refundAll(uint64 i) internal {
        Rec[] storage rs = _recs[i];
        (,,, uint128 bondBefore) = auction.getMarket(market);
        uint256 tokensBefore = token.balanceOf(address(auction));
        for (uint256 k; k < rs.length; ++k) {
            if (!rs[k].outstanding) continue;
            uint256[3] memory before;
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

    /// @dev Any record, consumed or not: claiming a consumed one must fail (property b).
    function _pickAny(uint256 seed) internal view returns (bool, uint64, uint256) {
        if (intervals.length == 0) return (false, 0, 0);
        uint64 i = intervals[seed % intervals.length];
        if (_recs[i].length == 0) return (false, 0, 0);
        return (true, i, (seed >> 16) % _recs[i].length);
    }
}
