// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Types, events and errors of a ticket collection.
/// @dev Every error names the rule that was broken and carries the values that broke it.
interface ITicketCollection {
    /// @notice What an organiser sets once per event.
    struct EventConfig {
        string name;
        string symbol;
        string baseURI;
        uint64 startTime; // cancellation is possible only before, and refunds stay locked until then
        uint64 transferLockTime; // nothing moves from this moment on
        uint16 resaleCapBps; // resale price cap against FACE VALUE, in basis points (>= 10000)
        uint96 royaltyBps; // ERC-2981 royalty on resales, in basis points
        address royaltyReceiver; // zero: the organiser
        bool giftsAllowed; // may holders move their own tickets for free?
        address badge; // attendance badge minted at check-in (zero: none)
    }

    /// @notice What an organiser sets per tier.
    struct TierConfig {
        string name;
        uint96 faceValue; // wei
        uint32 supply;
        uint32 maxPerWallet; // primary purchases per wallet; 0 means no cap
        uint64 saleStart;
        uint64 saleEnd;
    }

    /// @notice A tier as stored, with its sales and presale rule.
    struct Tier {
        uint96 faceValue;
        uint32 supply;
        uint32 minted;
        uint32 maxPerWallet;
        uint64 saleStart;
        uint64 saleEnd;
        uint64 presaleEnd; // until then only eligible buyers may buy
        uint32 presaleMinEvents; // badges needed, of presaleEvents
        bytes32 presaleRoot; // Merkle root of eligible addresses (leaves hashed twice)
        string name;
        uint64[] presaleEvents; // badge event ids that count
    }

    /// @notice One ticket, as a reader sees it.
    struct TicketInfo {
        address owner;
        uint16 tierId;
        uint96 faceValue;
        bool used;
        bool paidOnChain; // bought through `buy`: its face value is refundable on chain
        address listedBy; // zero when not listed
        uint96 listedPrice;
    }

    // ---- events ----
    event TierAdded(uint256 indexed tierId, string name, uint96 faceValue, uint32 supply);
    event TierUpdated(uint256 indexed tierId);
    event PresaleSet(uint256 indexed tierId, uint64 endsAt, uint32 minEvents, uint64[] eventIds, bytes32 merkleRoot);
    event TicketsPurchased(address indexed buyer, uint256 indexed tierId, uint256 firstTokenId, uint256 quantity, uint256 paid);
    event TicketsMinted(uint256 indexed tierId, uint256 firstTokenId, uint256 quantity);
    event Listed(uint256 indexed tokenId, address indexed seller, uint256 price);
    event ListingCancelled(uint256 indexed tokenId);
    event ResaleBought(uint256 indexed tokenId, address indexed seller, address indexed buyer, uint256 price, uint256 royalty);
    event GatewayTransferred(uint256 indexed tokenId, address indexed from, address indexed to, uint256 price);
    event CheckedIn(uint256 indexed tokenId, address indexed holder);
    event CheckInSkipped(uint256 indexed tokenId, uint8 reason);
    event EventCancelled(uint256 at);
    event Refunded(uint256 indexed tokenId, address indexed holder, uint256 amount);
    event PaymentCredited(address indexed account, uint256 amount);
    event CreditWithdrawn(address indexed account, uint256 amount);
    event ProceedsWithdrawn(address indexed to, uint256 amount);

    // ---- organiser input ----
    error ResaleCapBelowFaceValue(uint16 resaleCapBps);
    error ZeroSupply();
    error InvalidSaleWindow(uint64 saleStart, uint64 saleEnd);
    error TooManyTiers(uint256 limit);
    error TierDoesNotExist(uint256 tierId);
    error FaceValueLocked(uint256 tierId, uint256 minted);
    error SupplyBelowMinted(uint256 tierId, uint32 supply, uint32 minted);
    error InvalidPresaleRule(uint32 minEvents, uint256 eventCount);
    error StartTimeInPast(uint64 startTime, uint256 now);

    // ---- primary sale ----
    error ZeroQuantity();
    error SaleNotOpen(uint256 tierId, uint64 saleStart, uint64 saleEnd);
    error SoldOut(uint256 tierId, uint256 requested, uint256 remaining);
    error WalletCapExceeded(uint256 tierId, address wallet, uint32 maxPerWallet);
    error InsufficientPayment(uint256 required, uint256 sent);
    error PresaleNotEligible(uint256 tierId, address buyer);

    // ---- tickets, resale, transfers ----
    error TicketDoesNotExist(uint256 tokenId);
    error NotTicketOwner(uint256 tokenId, address caller);
    error TicketAlreadyUsed(uint256 tokenId);
    error PriceAboveCap(uint256 tokenId, uint256 price, uint256 cap);
    error NotListed(uint256 tokenId);
    error TransferNotAllowed(uint256 tokenId, address caller);
    error GiftsNotAllowed(uint256 tokenId);
    error ListingAboveMaxPrice(uint256 tokenId, uint256 price, uint256 maxPrice);
    error TransfersLocked(uint256 tokenId, uint64 transferLockTime);
    error ApprovalsDisabled();
    error UnexpectedPayment(uint256 value);
    error AuthorizationExpired(uint256 deadline);
    error InvalidHolderSignature(uint256 tokenId, address signer);

    // ---- cancellation and money ----
    error EventIsCancelled();
    error EventNotCancelled();
    error EventAlreadyStarted(uint64 startTime);
    error NotRefundable(uint256 tokenId);
    error NothingToWithdraw(address account);
    error ExceedsWithdrawable(uint256 amount, uint256 available);
}
