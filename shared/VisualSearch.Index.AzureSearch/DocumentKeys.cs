using System.Security.Cryptography;
using System.Text;

namespace VisualSearch.Index.AzureSearch;

/// <summary>
/// Item ids as Azure AI Search document keys. A key may hold only letters, digits, '_', '-' and '=' and at most
/// 1,024 characters; our ids hold '/', '.', spaces and any Unicode. A key is "b" + the base64url (RFC 4648 §5,
/// no padding) of the id's UTF-8, or, for an id whose encoding would pass 1,000 characters, "h" + the hex
/// SHA-256 of that UTF-8. Either way it is reversible through the stored itemId field, unique, and safe inside
/// an OData string literal. A region's document (issue 14) is its item's key + "=" + the region's number: '=' is
/// allowed in keys and never part of an item's key (base64url without padding, or hex), so the two never meet.
/// </summary>
public static class DocumentKeys
{
    private const int MaxEncodedLength = 1000;

    public static string Encode(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var bytes = Encoding.UTF8.GetBytes(id);
        if ((bytes.Length + 2) / 3 * 4 < MaxEncodedLength)
        {
            var encoded = Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            return "b" + encoded;
        }

        return "h" + Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>The key of region <paramref name="number"/> (from 0) of the item whose key is <paramref name="itemKey"/>.</summary>
    public static string Region(string itemKey, int number)
    {
        ArgumentException.ThrowIfNullOrEmpty(itemKey);
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        return itemKey + "=" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The region number a region's key ends with; -1 for an item's own key.</summary>
    public static int RegionNumber(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var at = key.LastIndexOf('=');
        return at >= 0 && int.TryParse(key.AsSpan(at + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1;
    }
}
