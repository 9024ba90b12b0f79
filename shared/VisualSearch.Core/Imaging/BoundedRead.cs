namespace VisualSearch.Imaging;

/// <summary>
/// The one bounded read of image bytes (Imaging:MaxBytes), used by ingestion, the HTTP API, the image server
/// and the CLI: a declared length over the limit is refused before anything is read, and a stream is never
/// read past the limit.
/// </summary>
public static class BoundedRead
{
    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes; null if the stream is longer. With <paramref name="expectedLength"/>
    /// (a Content-Length, a blob's size) within the limit, the bytes are read into one array of that size, so a body
    /// costs its size once instead of the doublings of a growing buffer; a stream that turns out longer or shorter still works.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long limit, CancellationToken cancellationToken, long? expectedLength = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (expectedLength is > 0 and var expected && expected <= limit && expected <= Array.MaxLength)
        {
            var exact = new byte[expected];
            var filled = 0;
            while (filled < exact.Length)
            {
                var read = await stream.ReadAsync(exact.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0) return exact.AsSpan(0, filled).ToArray(); // shorter than announced
                filled += read;
            }

            var probe = new byte[1];
            if (await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0) return exact;
            if (filled + 1 > limit) return null;
            using var longer = new MemoryStream();
            longer.Write(exact, 0, filled);
            longer.Write(probe, 0, 1);
            return await ReadRestAsync(stream, longer, limit, cancellationToken).ConfigureAwait(false);
        }

        using var buffer = new MemoryStream();
        return await ReadRestAsync(stream, buffer, limit, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<byte[]?> ReadRestAsync(Stream stream, MemoryStream buffer, long limit, CancellationToken cancellationToken)
    {
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
    /// then the stream is read up to the limit (into one array of the declared size when it is known). Over it, <see cref="ImageRejectedException"/> with
    /// <see cref="ImageRejectionReason.TooLarge"/>.
    /// </summary>
    public static async Task<byte[]> ReadImageAsync(Stream stream, long? declaredLength, long limit, CancellationToken cancellationToken)
    {
        CheckLength(declaredLength, limit);
        return await ReadAsync(stream, limit, cancellationToken, declaredLength).ConfigureAwait(false)
            ?? throw new ImageRejectedException(ImageRejectionReason.TooLarge, $"The image is over the limit of {limit} bytes.");
    }
}
