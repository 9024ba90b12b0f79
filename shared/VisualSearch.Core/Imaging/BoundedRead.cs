namespace VisualSearch.Imaging;

/// <summary>
/// The one bounded read of image bytes (Imaging:MaxBytes), used by ingestion, the HTTP API, the image server
/// and the CLI: a declared length over the limit is refused before anything is read, and a stream is never
/// read past the limit.
/// </summary>
public static class BoundedRead
{
    /// <summary>Reads at most <paramref name="limit"/> bytes; null if the stream is longer.</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>Refuses a length known before reading (a Content-Length, a blob's or a file's size) that is over the limit.</summary>
    public static void CheckLength(long? length, long limit)
    {
        if (length > limit)
            throw new ImageRejectedException(ImageRejectionReason.TooLarge, $"The image is {length} bytes; the limit is {limit}.");
    }

    /// <summary>
    /// Reads an image of at most <paramref name="limit"/> bytes: <paramref name="declaredLength"/> is checked first,
    /// then the stream is read up to the limit. Over it, <see cref="ImageRejectedException"/> with
    /// <see cref="ImageRejectionReason.TooLarge"/>.
    /// </summary>
    public static async Task<byte[]> ReadImageAsync(Stream stream, long? declaredLength, long limit, CancellationToken cancellationToken)
    {
        CheckLength(declaredLength, limit);
        return await ReadAsync(stream, limit, cancellationToken).ConfigureAwait(false)
            ?? throw new ImageRejectedException(ImageRejectionReason.TooLarge, $"The image is over the limit of {limit} bytes.");
    }
}
