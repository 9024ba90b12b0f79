using System.Buffers;

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

    /// <summary>
    /// As <see cref="ReadImageAsync(Stream, long?, long, CancellationToken)"/>, into an array rented from
    /// <paramref name="pool"/> when the length is declared (the common case: a file's or a blob's size), so that a process
    /// ingesting photo after photo reuses one buffer per worker instead of allocating and page-faulting a fresh one (2.7 MB
    /// for a 12 MP JPEG) per image. The result is only the bytes read (<see cref="ImageBytes.Span"/>; the rented array is
    /// longer); dispose it, once, when the bytes are no longer used, which gives the array back. A stream longer or shorter
    /// than declared still gives its real bytes (then in an array of their own), and the limit still holds.
    /// </summary>
    public static async Task<ImageBytes> ReadImageAsync(Stream stream, long? declaredLength, long limit, ArrayPool<byte> pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(pool);
        CheckLength(declaredLength, limit);
        if (declaredLength is not (> 0 and var expected) || expected >= Array.MaxLength)
            return new ImageBytes(await ReadImageAsync(stream, declaredLength, limit, cancellationToken).ConfigureAwait(false));

        // One byte more than declared: a stream that is longer shows without a second read.
        var rented = pool.Rent((int)expected + 1);
        var handedOver = false;
        try
        {
            var filled = 0;
            while (filled <= expected)
            {
                var read = await stream.ReadAsync(rented.AsMemory(filled, (int)expected + 1 - filled), cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                filled += read;
            }

            if (filled <= expected)
            {
                handedOver = true;
                return new ImageBytes(rented, filled, pool);
            }

            // Longer than declared: the rest through the growing buffer, up to the limit.
            if (filled > limit) throw TooLarge(limit);
            using var longer = new MemoryStream();
            longer.Write(rented, 0, filled);
            return new ImageBytes(await ReadRestAsync(stream, longer, limit, cancellationToken).ConfigureAwait(false) ?? throw TooLarge(limit));
        }
        finally
        {
            if (!handedOver) pool.Return(rented);
        }
    }

    private static ImageRejectedException TooLarge(long limit) =>
        new(ImageRejectionReason.TooLarge, $"The image is over the limit of {limit} bytes.");
}

/// <summary>
/// Encoded image bytes read by <see cref="BoundedRead.ReadImageAsync(Stream, long?, long, ArrayPool{byte}, CancellationToken)"/>:
/// <see cref="Length"/> bytes at the start of an array that may be rented from a pool and longer. Dispose gives a rented
/// array back exactly once (a second Dispose does nothing, so one array is never handed to two readers); the bytes must
/// not be used after it.
/// </summary>
public sealed class ImageBytes : IDisposable
{
    private byte[]? _array;
    private readonly ArrayPool<byte>? _pool;

    /// <summary>Bytes in an array of their own (nothing to give back).</summary>
    public ImageBytes(byte[] bytes)
        : this(bytes ?? throw new ArgumentNullException(nameof(bytes)), bytes.Length, null)
    {
    }

    internal ImageBytes(byte[] array, int length, ArrayPool<byte>? pool)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, array.Length);
        _array = array;
        Length = length;
        _pool = pool;
    }

    /// <summary>The number of bytes read.</summary>
    public int Length { get; }

    /// <summary>The bytes read (not the rest of a rented array).</summary>
    public ReadOnlySpan<byte> Span => (_array ?? throw new ObjectDisposedException(nameof(ImageBytes))).AsSpan(0, Length);

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, null);
        if (array is not null) _pool?.Return(array);
    }
}
