namespace VisualSearch.Embedding;

/// <summary>
/// What a query's flat background does in the feature-map descriptor (issue 14, docs/quality.md section 7g; queries only,
/// stored vectors never change): the background is a near-constant colour connected to the image's border
/// (<see cref="BorderBackground"/>: the white corners of a detail cut through a circle, letterbox bars, a rotated canvas's
/// black corners), which a stored image that holds the same picture does not show.
/// </summary>
public enum QueryBackgroundMode
{
    /// <summary>The query is embedded as a stored item is (the default).</summary>
    None,

    /// <summary>The background's pixels enter the network as the mean pixel (zero after the mean subtraction).</summary>
    Fill,

    /// <summary>Only the map cells whose block of the image is mostly not background are pooled (<see cref="BorderBackground.KeptCells"/>).</summary>
    Pool,

    /// <summary><see cref="Fill"/> and <see cref="Pool"/>.</summary>
    FillAndPool,
}

/// <summary>
/// Pure functions that find an image's flat background: the pixels of one near-constant colour that are connected to the
/// border, and the map cells that are mostly not background.
/// </summary>
public static class BorderBackground
{
    /// <summary>The largest difference of a channel (0-255) from the background's colour that still counts as background (JPEG ringing on white stays within it).</summary>
    public const int DefaultTolerance = 12;

    /// <summary>The share of the border's pixels the background colour must hold to count (a circle inscribed in the image leaves it about 0.85; letterbox bars 0.6 and more).</summary>
    public const double DefaultMinBorderShare = 0.5;

    /// <summary>Below this share of the image the background is left alone (a few border pixels of one colour are no background).</summary>
    public const double MinAreaShare = 0.02;

    /// <summary>Above this share of the image the picture is all but flat: nothing is masked (nothing would be left to describe).</summary>
    public const double MaxAreaShare = 0.95;

    /// <summary>For <see cref="KeptCells"/>: a cell is kept when at least this share of its block is not background.</summary>
    public const double DefaultKeepShare = 0.5;

    /// <summary>
    /// The background of an image (<paramref name="rgb"/>, interleaved, row-major): true for every pixel within
    /// <paramref name="tolerance"/> of the border's dominant colour and connected (4-neighbours) to the border through such
    /// pixels. Empty (all false) when that colour holds less than <paramref name="minBorderShare"/> of the border's pixels,
    /// or the background would be less than <see cref="MinAreaShare"/> or more than <see cref="MaxAreaShare"/> of the image.
    /// </summary>
    public static bool[] Detect(ReadOnlySpan<byte> rgb, int width, int height, int tolerance = DefaultTolerance, double minBorderShare = DefaultMinBorderShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tolerance, 255);
        ArgumentOutOfRangeException.ThrowIfLessThan(minBorderShare, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBorderShare, 1);
        if (rgb.Length != width * height * 3) throw new ArgumentException($"Expected {width * height * 3} RGB bytes.", nameof(rgb));
        var mask = new bool[width * height];
        var border = BorderPixels(width, height);
        if (DominantColour(rgb, border, tolerance) is not { } colour) return mask;

        var near = 0;
        foreach (var p in border) if (Near(rgb, p, colour, tolerance)) near++;
        if (near < minBorderShare * border.Count) return mask;

        // Flood from every border pixel of that colour through pixels of that colour (not neighbour to neighbour, so that
        // a gradient such as a sky is not followed away from the colour).
        var queue = new Queue<int>();
        foreach (var p in border)
        {
            if (mask[p] || !Near(rgb, p, colour, tolerance)) continue;
            mask[p] = true;
            queue.Enqueue(p);
        }

        var count = queue.Count;
        Span<int> neighbours = stackalloc int[4];
        while (queue.TryDequeue(out var p))
        {
            int x = p % width, y = p / width, n = 0;
            if (x > 0) neighbours[n++] = p - 1;
            if (x < width - 1) neighbours[n++] = p + 1;
            if (y > 0) neighbours[n++] = p - width;
            if (y < height - 1) neighbours[n++] = p + width;
            foreach (var q in neighbours[..n])
            {
                if (mask[q] || !Near(rgb, q, colour, tolerance)) continue;
                mask[q] = true;
                count++;
                queue.Enqueue(q);
            }
        }

        if (count < MinAreaShare * mask.Length || count > MaxAreaShare * mask.Length) Array.Clear(mask);
        return mask;
    }

    /// <summary>
    /// The cells of a <paramref name="mapWidth"/> x <paramref name="mapHeight"/> map (row-major) that span an image of
    /// <paramref name="pixelWidth"/> x <paramref name="pixelHeight"/> whose block (the same blocks as
    /// <see cref="FeatureMapPooling.NonFlatCells"/>) is at least <paramref name="keepShare"/> not background.
    /// </summary>
    public static bool[] KeptCells(ReadOnlySpan<bool> background, int pixelWidth, int pixelHeight, int mapWidth, int mapHeight, double keepShare = DefaultKeepShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(keepShare);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(keepShare, 1);
        if (background.Length != pixelWidth * pixelHeight) throw new ArgumentException($"Expected a mask of {pixelWidth * pixelHeight} pixels.", nameof(background));
        var keep = new bool[mapWidth * mapHeight];
        for (var cy = 0; cy < mapHeight; cy++)
        {
            int y0 = cy * pixelHeight / mapHeight, y1 = Math.Min(pixelHeight, Math.Max(y0 + 1, (cy + 1) * pixelHeight / mapHeight));
            for (var cx = 0; cx < mapWidth; cx++)
            {
                int x0 = cx * pixelWidth / mapWidth, x1 = Math.Min(pixelWidth, Math.Max(x0 + 1, (cx + 1) * pixelWidth / mapWidth));
                int picture = 0, all = 0;
                for (var y = y0; y < y1; y++)
                {
                    foreach (var b in background.Slice(y * pixelWidth + x0, x1 - x0)) if (!b) picture++;
                    all += x1 - x0;
                }

                keep[cy * mapWidth + cx] = all > 0 && picture >= keepShare * all;
            }
        }

        return keep;
    }

    /// <summary>The indexes of the border's pixels, each once (top and bottom rows, then the columns' inner pixels).</summary>
    private static List<int> BorderPixels(int width, int height)
    {
        var border = new List<int>(2 * (width + height));
        for (var x = 0; x < width; x++)
        {
            border.Add(x);
            if (height > 1) border.Add((height - 1) * width + x);
        }

        for (var y = 1; y < height - 1; y++)
        {
            border.Add(y * width);
            if (width > 1) border.Add(y * width + width - 1);
        }

        return border;
    }

    /// <summary>
    /// The colour most border pixels are near: the mean of the border pixels within <paramref name="tolerance"/> of the
    /// fullest bin of a coarse histogram (16 levels per channel), or null for an empty border.
    /// </summary>
    private static (int R, int G, int B)? DominantColour(ReadOnlySpan<byte> rgb, List<int> border, int tolerance)
    {
        if (border.Count == 0) return null;
        var bins = new Dictionary<int, int>();
        foreach (var p in border)
        {
            var bin = (rgb[3 * p] >> 4 << 8) | (rgb[3 * p + 1] >> 4 << 4) | (rgb[3 * p + 2] >> 4);
            bins[bin] = bins.GetValueOrDefault(bin) + 1;
        }

        var best = bins.MaxBy(b => (b.Value, -b.Key)).Key;
        var centre = (R: ((best >> 8) << 4) + 8, G: (((best >> 4) & 15) << 4) + 8, B: ((best & 15) << 4) + 8);
        long r = 0, g = 0, b = 0, n = 0;
        foreach (var p in border)
        {
            if (!Near(rgb, p, centre, Math.Max(tolerance, 8))) continue;
            r += rgb[3 * p];
            g += rgb[3 * p + 1];
            b += rgb[3 * p + 2];
            n++;
        }

        return n == 0 ? centre : ((int)Math.Round((double)r / n), (int)Math.Round((double)g / n), (int)Math.Round((double)b / n));
    }

    private static bool Near(ReadOnlySpan<byte> rgb, int pixel, (int R, int G, int B) colour, int tolerance) =>
        Math.Abs(rgb[3 * pixel] - colour.R) <= tolerance && Math.Abs(rgb[3 * pixel + 1] - colour.G) <= tolerance && Math.Abs(rgb[3 * pixel + 2] - colour.B) <= tolerance;
}
