using System.Text;

namespace VisualSearch.Blobs;

/// <summary>
/// Blob metadata travels as x-ms-meta-* HTTP headers, which carry ASCII only. Values are stored as UTF-8 with
/// every byte outside printable ASCII, and '%', percent-encoded: "Zürich 2024" is "Z%C3%BCrich 2024", plain
/// ASCII stays readable. The upload endpoint encodes the headers it hands out; ingestion decodes (a literal
/// "%xx" sequence in a value set by another client is therefore read as an escape).
/// </summary>
public static class BlobMetadataValues
{
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = Encoding.UTF8.GetBytes(value);
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') text.Append((char)b);
            else text.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Contains('%', StringComparison.Ordinal) ? Uri.UnescapeDataString(value) : value;
    }
}
